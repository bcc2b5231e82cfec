DROP TABLE case_referrals;
DROP TABLE case_instalments;
DROP TABLE case_agreements;
ALTER TABLE cases DROP COLUMN followed_up_at;
ALTER TABLE cases DROP COLUMN rating;
ALTER TABLE cases DROP COLUMN recovered_fen;
ALTER TABLE cases DROP COLUMN outcome;
DROP TABLE case_mediators;
DROP TABLE mediators;
