-- Workers signed in on the public pages a poster or a door QR opens (identity::web_sessions):
-- a phone's browser, often WeChat's, that has no app. The browser holds a random token in an
-- HttpOnly cookie; only its SHA-256 is stored.
CREATE TABLE web_sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- The synchronizer token every form of this session carries.
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_account ON web_sessions (account_id);
