-- Whether the claimants of a case were told that the 15-day mediation period passed, and that
-- the limitation for arbitration runs out soon (rights::reminders): each once.
ALTER TABLE cases ADD COLUMN mediation_notice_sent BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE cases ADD COLUMN limitation_notice_sent BOOLEAN NOT NULL DEFAULT FALSE;
