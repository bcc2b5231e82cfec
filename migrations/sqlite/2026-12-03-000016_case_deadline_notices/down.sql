ALTER TABLE cases DROP COLUMN limitation_notice_sent;
ALTER TABLE cases DROP COLUMN mediation_notice_sent;
