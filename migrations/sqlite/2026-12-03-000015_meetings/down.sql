DROP TABLE case_meetings;
