-- Accounts: the phone number is personal data (PIPL), so it is kept encrypted and found by a
-- keyed hash; nothing here holds it in clear.
CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    phone_hash TEXT NOT NULL UNIQUE,
    phone_enc TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP NOT NULL
);

-- Opaque refresh tokens, stored hashed. A family is one sign-in; every rotation adds a row.
CREATE TABLE refresh_tokens (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP,
    -- The rotation's response, encrypted, so a retried refresh within the grace window gets the
    -- same new pair instead of tripping reuse detection.
    rotation_replay TEXT,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);

-- Real-name profile: the resident ID number encrypted, a keyed hash for one-number-one-account,
-- and the masked form for display.
CREATE TABLE real_name_profiles (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    legal_name TEXT NOT NULL,
    id_number_enc TEXT NOT NULL,
    id_number_hash TEXT NOT NULL UNIQUE,
    id_number_masked TEXT NOT NULL,
    consent_at TIMESTAMP NOT NULL,
    consent_policy TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Idempotency-Key records: the first response to a creating POST, replayed on retries.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
