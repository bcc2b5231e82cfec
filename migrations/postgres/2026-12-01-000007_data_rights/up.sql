-- A deleted account stays as a tombstone (its id keeps anonymous counts such as attendance and
-- visits whole) without a phone, a password or a profile.
ALTER TABLE accounts ADD COLUMN deleted_at TIMESTAMP;
-- Access tokens of this account issued at or before this moment are refused (deletion).
ALTER TABLE accounts ADD COLUMN tokens_revoked_at TIMESTAMP;
CREATE INDEX accounts_tokens_revoked ON accounts (tokens_revoked_at);

-- Whose stored answer this is, so an erased account's answers go with it.
ALTER TABLE idempotency_keys ADD COLUMN account_id BIGINT;
CREATE INDEX idempotency_keys_account ON idempotency_keys (account_id);

-- Consent records (PIPL Art. 14-15): which text, which version, when given, when withdrawn.
-- Giving consent again to a new version adds a row; the old one stays as the record.
CREATE TABLE consents (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    purpose TEXT NOT NULL,
    version TEXT NOT NULL,
    given_at TIMESTAMP NOT NULL,
    withdrawn_at TIMESTAMP
);
CREATE INDEX consents_account ON consents (account_id, purpose);
-- What profiles already record: their consent, as the first row of each.
INSERT INTO consents (account_id, purpose, version, given_at)
    SELECT account_id, 'real_name', consent_policy, consent_at FROM real_name_profiles;
