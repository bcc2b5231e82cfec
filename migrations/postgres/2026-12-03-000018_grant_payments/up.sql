-- Paying hardship grants, the evidence behind them and platforms' order counts
-- (crates/benefits/src/grants). Approved applications go into a batch the finance office
-- pays from its CSV; each attempt is a payment row, settled paid or failed with the reason.
CREATE TABLE grant_batches (
    id BIGSERIAL PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    -- The org whose staff made it: the approved applications of its subtree went in.
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    created_by BIGINT REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    -- First export of the finance file.
    exported_at TIMESTAMP
);
CREATE INDEX grant_batches_org ON grant_batches (org_id, id);
CREATE TABLE grant_payments (
    id BIGSERIAL PRIMARY KEY,
    batch_id BIGINT NOT NULL REFERENCES grant_batches (id),
    application_id BIGINT NOT NULL REFERENCES grant_applications (id),
    amount_fen BIGINT NOT NULL,
    -- The card this attempt paid to, masked; the full number is read from the application.
    card_masked TEXT NOT NULL,
    -- benefits::grants::vocab::PaymentOutcome: pending, paid, failed.
    outcome TEXT NOT NULL,
    -- Why it failed, as the bank or the finance office said.
    reason TEXT,
    settled_at TIMESTAMP,
    settled_by BIGINT REFERENCES accounts (id)
);
CREATE INDEX grant_payments_batch ON grant_payments (batch_id, id);
-- One attempt at a time per application: never paid twice.
CREATE UNIQUE INDEX grant_payments_one_pending ON grant_payments (application_id)
    WHERE outcome = 'pending';
ALTER TABLE grant_applications ADD COLUMN batch_id BIGINT REFERENCES grant_batches (id);
ALTER TABLE grant_applications ADD COLUMN paid_at TIMESTAMP;
-- Where the orders rule was checked from: declared (by the worker) or imported (a file).
ALTER TABLE grant_applications ADD COLUMN orders_source TEXT NOT NULL DEFAULT 'declared';
-- Evidence an applicant hands in (screenshots of orders, a diagnosis), sealed in the file store.
CREATE TABLE grant_documents (
    id BIGSERIAL PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES grant_applications (id),
    -- Sealed: the name the phone sent.
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    file_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX grant_documents_application ON grant_documents (application_id, id);
-- Monthly order counts a platform or federation gave the union, imported by staff for one
-- program: by the keyed hash of the worker's ID number only, never the number itself.
CREATE TABLE grant_order_counts (
    program_id BIGINT NOT NULL REFERENCES programs (id),
    id_hash TEXT NOT NULL,
    month DATE NOT NULL,
    orders INTEGER NOT NULL,
    -- Who provided the file, as staff named it.
    source TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    imported_by BIGINT REFERENCES accounts (id),
    PRIMARY KEY (program_id, id_hash, month)
);
