-- A member's memberships by account: the partial unique indexes (one active, one pending)
-- enforce the rules, but a planner that does not look at bound values cannot use them for
-- `account_id = ? AND status = ?`.
CREATE INDEX memberships_account ON memberships (account_id, status);

-- This database's own name for the keys it keeps in Redis: a fresh or restored database that
-- meets a Redis used before (ids restart at 1) must not inherit its "sold out" marks, rate
-- limits or sessions.
CREATE TABLE deployment (
    id TEXT PRIMARY KEY
);
INSERT INTO deployment (id) VALUES (lower(hex(randomblob(8))));
