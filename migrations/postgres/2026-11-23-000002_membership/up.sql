-- Union organisations: a tree (federation -> city -> district -> street -> community, plus
-- industry federations and enterprise unions).
CREATE TABLE orgs (
    id BIGSERIAL PRIMARY KEY,
    parent_id BIGINT REFERENCES orgs (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    region_code TEXT NOT NULL,
    address TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lng DOUBLE PRECISION,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX orgs_parent ON orgs (parent_id);

-- Closure table: one row per (ancestor, descendant) pair, the org itself included at depth 0.
-- "Is X inside the subtree of A" and "everything under A" are single indexed look-ups.
CREATE TABLE org_closure (
    ancestor_id BIGINT NOT NULL REFERENCES orgs (id),
    descendant_id BIGINT NOT NULL REFERENCES orgs (id),
    depth INTEGER NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX org_closure_descendant ON org_closure (descendant_id);

-- Staff act on the whole subtree of the org they are granted on.
CREATE TABLE staff_grants (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    granted_by BIGINT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, org_id)
);

CREATE TABLE join_codes (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    label TEXT NOT NULL,
    expires_at TIMESTAMP,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    auto_approve BOOLEAN NOT NULL,
    revoked_at TIMESTAMP,
    created_by BIGINT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX join_codes_org ON join_codes (org_id);

-- A person's union membership: the member number, kept across transfers and rejoining.
CREATE TABLE members (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id),
    member_no TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

-- Member numbers: one counter per region code.
CREATE TABLE member_no_counters (
    region_code TEXT PRIMARY KEY,
    last_value BIGINT NOT NULL
);

-- Applications and membership periods. Status: pending -> active | rejected | withdrawn;
-- active -> ended. Rows are never deleted: they are the member's history.
CREATE TABLE memberships (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    join_code_id BIGINT REFERENCES join_codes (id),
    status TEXT NOT NULL,
    occupation TEXT NOT NULL,
    platform TEXT NOT NULL,
    work_city TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by BIGINT REFERENCES accounts (id),
    reject_reason TEXT,
    started_at TIMESTAMP,
    ended_at TIMESTAMP,
    end_reason TEXT
);
-- One active membership and one pending application per person at a time.
CREATE UNIQUE INDEX memberships_one_active ON memberships (account_id) WHERE status = 'active';
CREATE UNIQUE INDEX memberships_one_pending ON memberships (account_id) WHERE status = 'pending';
CREATE INDEX memberships_org_status ON memberships (org_id, status, id);

-- Append-only history the member can read.
CREATE TABLE membership_events (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    membership_id BIGINT NOT NULL REFERENCES memberships (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    kind TEXT NOT NULL,
    note TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX membership_events_account ON membership_events (account_id, id);
