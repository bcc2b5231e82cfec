DROP TABLE idempotency_keys;
DROP TABLE real_name_profiles;
DROP TABLE refresh_tokens;
DROP TABLE accounts;
