-- A member's memberships by account: the partial unique indexes (one active, one pending)
-- enforce the rules, but a planner that does not look at bound values cannot use them for
-- `account_id = ? AND status = ?`.
CREATE INDEX memberships_account ON memberships (account_id, status);
