DROP TABLE consents;
DROP INDEX idempotency_keys_account;
ALTER TABLE idempotency_keys DROP COLUMN account_id;
DROP INDEX accounts_tokens_revoked;
ALTER TABLE accounts DROP COLUMN tokens_revoked_at;
ALTER TABLE accounts DROP COLUMN deleted_at;
