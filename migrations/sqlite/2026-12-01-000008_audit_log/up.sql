-- The audit log (PIPL Art. 51): who did what to which record, from where, when. Append-only:
-- the service never updates or deletes a row. Records are named by kind and id, never by a
-- phone, a name, an ID number or free text; the actor's address is kept because the record of
-- an access needs it. No foreign keys: entries outlive what they name (an erased account keeps
-- its bare id here).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    -- NULL when the system acted on its own.
    actor_account_id BIGINT,
    -- The client address as our proxies saw it; empty for the system.
    actor_address TEXT NOT NULL,
    -- A stable dotted name, e.g. membership.approve.
    action TEXT NOT NULL,
    -- The org the entry belongs to: staff of its subtree read it.
    org_id BIGINT,
    -- The member whose data the action concerned.
    subject_account_id BIGINT,
    -- What was acted on, by kind and id, e.g. membership:123.
    record TEXT NOT NULL
);
-- Staff read their subtree newest first; a member's entries are found by account.
CREATE INDEX audit_log_org ON audit_log (org_id, id);
CREATE INDEX audit_log_subject ON audit_log (subject_account_id, id);
