-- Rights protection (crates/rights): a worker's dispute case against a respondent, handled by
-- the staff of the union org that serves the worker (and of every org above it). Free text a
-- person wrote (the facts, messages, the respondent's contact, file names) is sealed with the
-- data key; amounts are integer fen.
CREATE TABLE cases (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    -- The claimant who filed it; null once that account is erased.
    filed_by BIGINT REFERENCES accounts (id),
    -- rights::vocab::CaseKind, e.g. wage_arrears.
    kind TEXT NOT NULL,
    -- rights::vocab::CaseClass, set when staff accept it.
    class TEXT,
    -- rights::vocab::CaseState.
    state TEXT NOT NULL,
    respondent_kind TEXT NOT NULL,
    respondent_name TEXT NOT NULL,
    -- Unified social credit code (GB 32100), when the worker knows it.
    respondent_code TEXT,
    -- What links cases against one respondent: the code, or the name folded.
    respondent_key TEXT NOT NULL,
    respondent_address TEXT,
    -- Sealed.
    respondent_contact TEXT,
    period_from TIMESTAMP,
    period_to TIMESTAMP,
    -- Sealed: the facts in the worker's words.
    facts TEXT NOT NULL,
    -- Colleagues join the case with it.
    invite_code TEXT NOT NULL,
    filed_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by BIGINT REFERENCES accounts (id),
    closed_at TIMESTAMP
);
CREATE UNIQUE INDEX cases_invite_code ON cases (invite_code);
-- An org's queue by state, newest first.
CREATE INDEX cases_queue ON cases (org_id, state, id);
-- Cases against one respondent, across the tree.
CREATE INDEX cases_respondent ON cases (respondent_key);
CREATE INDEX cases_filed_by ON cases (filed_by);

-- Everyone the case claims for: the filer first, then colleagues who joined with the code.
CREATE TABLE case_claimants (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    -- Null once the account is erased: the amount stays in the figures.
    account_id BIGINT REFERENCES accounts (id),
    amount_claimed_fen BIGINT NOT NULL,
    joined_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX case_claimants_once ON case_claimants (case_id, account_id);
CREATE INDEX case_claimants_account ON case_claimants (account_id);

-- The case's timeline, append-only: every step, message and note.
CREATE TABLE case_events (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    at TIMESTAMP NOT NULL,
    -- Null for the service itself, or once the account is erased.
    actor_account_id BIGINT REFERENCES accounts (id),
    -- rights::vocab::EventKind.
    kind TEXT NOT NULL,
    -- Whether the claimants see it (staff notes are for staff).
    public BOOLEAN NOT NULL,
    -- Sealed free text, when the step has any.
    body TEXT
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- Evidence files: the bytes sealed in the platform file store under file_key; the name as
-- sent (sealed), shown and never used as a path.
CREATE TABLE case_evidence (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    uploaded_by BIGINT REFERENCES accounts (id),
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    file_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX case_evidence_case ON case_evidence (case_id, id);
