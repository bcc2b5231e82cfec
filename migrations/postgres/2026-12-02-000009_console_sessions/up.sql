-- Staff console sign-ins (identity::console_sessions). The browser holds a random token in an
-- HttpOnly cookie; only its SHA-256 is stored. A session counts once its second factor is done.
CREATE TABLE console_sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- The synchronizer token every form of this session carries.
    csrf_token TEXT NOT NULL,
    -- Password checked; the SMS code not yet (the session serves no page until it is).
    second_factor_done BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);

-- Browsers where an account passed the second factor: signing in there again asks for the
-- password only, until the mark expires. Token stored hashed, as above.
CREATE TABLE trusted_browsers (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX trusted_browsers_account ON trusted_browsers (account_id);
