DROP TABLE case_evidence;
DROP TABLE case_events;
DROP TABLE case_claimants;
DROP TABLE cases;
