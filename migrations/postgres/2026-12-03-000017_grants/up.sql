-- Hardship grants (crates/benefits/src/grants): a program of kind hardship_grant carries its
-- terms (the amount per household and the budget, in integer fen, optionally split among child
-- orgs); workers apply with their household, staff review, verify, publish a notice and decide.
-- What a person wrote, ID numbers and bank cards are sealed with the data key; uniqueness is
-- checked on keyed hashes, never on plaintext.
CREATE TABLE grant_terms (
    program_id BIGINT PRIMARY KEY REFERENCES programs (id),
    amount_fen BIGINT NOT NULL,
    budget_fen BIGINT NOT NULL,
    -- What approvals have not taken yet; never below zero.
    budget_left_fen BIGINT NOT NULL CHECK (budget_left_fen >= 0),
    -- Days an application stays on the public notice before it may be approved.
    notice_days INTEGER NOT NULL,
    -- JSON: the documents asked for, as staff wrote them.
    documents TEXT NOT NULL,
    -- JSON: benefits::grants::terms::GrantRules.
    rules TEXT NOT NULL
);
-- A child org's share of the budget (the city gives each district its part).
CREATE TABLE grant_shares (
    program_id BIGINT NOT NULL REFERENCES programs (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    share_fen BIGINT NOT NULL,
    left_fen BIGINT NOT NULL CHECK (left_fen >= 0),
    PRIMARY KEY (program_id, org_id)
);
CREATE TABLE grant_applications (
    id BIGSERIAL PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    -- Null once the applicant's account is erased (the decision and the amount stay).
    account_id BIGINT REFERENCES accounts (id),
    -- The org that serves the applicant, whose staff (and those above) handle it.
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    -- The share that pays it, when the budget is split.
    share_org_id BIGINT REFERENCES orgs (id),
    -- benefits::grants::vocab::GrantState.
    state TEXT NOT NULL,
    -- benefits::grants::vocab::HardshipCause.
    cause TEXT NOT NULL,
    -- Declared monthly household income, fen.
    income_fen BIGINT NOT NULL,
    -- JSON [{"month": "2026-10", "orders": 31}]: the orders of recent months as declared.
    orders TEXT NOT NULL,
    -- Sealed: the declaration in the worker's words.
    declaration TEXT NOT NULL,
    -- Legal name as on the card, masked on the notice (张*).
    applicant_name TEXT NOT NULL,
    bank_name TEXT NOT NULL,
    -- Sealed; the masked form is all anyone but the finance export sees.
    card_enc TEXT NOT NULL,
    card_masked TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    notice_until TIMESTAMP,
    applied_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by BIGINT REFERENCES accounts (id)
);
CREATE INDEX grant_applications_queue ON grant_applications (program_id, state, id);
CREATE INDEX grant_applications_account ON grant_applications (account_id);
-- One grant per household per program: every member's ID number, by keyed hash.
CREATE TABLE grant_household (
    application_id BIGINT NOT NULL REFERENCES grant_applications (id),
    program_id BIGINT NOT NULL REFERENCES programs (id),
    id_hash TEXT NOT NULL,
    -- Sealed.
    id_enc TEXT NOT NULL,
    name_enc TEXT NOT NULL,
    -- benefits::grants::vocab::Relation.
    relation TEXT NOT NULL,
    PRIMARY KEY (application_id, id_hash)
);
CREATE UNIQUE INDEX grant_household_once ON grant_household (program_id, id_hash);
-- Every step of an application, append-only.
CREATE TABLE grant_events (
    id BIGSERIAL PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES grant_applications (id),
    kind TEXT NOT NULL,
    -- The staff account that took the step; null for the applicant's own.
    actor_id BIGINT REFERENCES accounts (id),
    -- Sealed: the note, reason or objection.
    note TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX grant_events_application ON grant_events (application_id, id);
