-- Benefit programs an org offers to the members of its subtree. `kind` is open-ended text
-- (health_check, gift_pack; later insurance enrolment, hardship grants, legal aid ...).
CREATE TABLE programs (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    per_member_limit INTEGER NOT NULL,
    -- Declarative eligibility rules, JSON.
    eligibility TEXT NOT NULL,
    -- Gift packs: first_come, or draw (fair mode).
    mode TEXT NOT NULL,
    stock_total INTEGER,
    stock_left INTEGER,
    voucher_valid_days INTEGER,
    entry_closes_at TIMESTAMP,
    draw_seed TEXT,
    drawn_at TIMESTAMP,
    created_by BIGINT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP,
    closed_at TIMESTAMP,
    CHECK (stock_left IS NULL OR stock_left >= 0)
);
CREATE INDEX programs_org_status ON programs (org_id, status);

CREATE TABLE vouchers (
    id BIGSERIAL PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- 1..per_member_limit: the unique key below is what makes "one per member" hold.
    claim_no INTEGER NOT NULL,
    code TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    valid_until TIMESTAMP,
    redeemed_at TIMESTAMP,
    redeemed_by BIGINT REFERENCES accounts (id),
    UNIQUE (program_id, account_id, claim_no)
);
CREATE INDEX vouchers_account ON vouchers (account_id, id);
CREATE INDEX vouchers_expiry ON vouchers (status, valid_until);

-- Fair mode: one entry per member; the draw sets the outcome.
CREATE TABLE draw_entries (
    id BIGSERIAL PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    outcome TEXT,
    UNIQUE (program_id, account_id)
);

CREATE TABLE health_sessions (
    id BIGSERIAL PRIMARY KEY,
    program_id BIGINT NOT NULL REFERENCES programs (id),
    site_name TEXT NOT NULL,
    address TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lng DOUBLE PRECISION,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    capacity INTEGER NOT NULL,
    booked INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    CHECK (booked >= 0 AND booked <= capacity)
);
CREATE INDEX health_sessions_program ON health_sessions (program_id, starts_at);

CREATE TABLE bookings (
    id BIGSERIAL PRIMARY KEY,
    session_id BIGINT NOT NULL REFERENCES health_sessions (id),
    program_id BIGINT NOT NULL REFERENCES programs (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    status TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    promoted_at TIMESTAMP,
    cancelled_at TIMESTAMP,
    checked_in_at TIMESTAMP,
    checked_in_by BIGINT REFERENCES accounts (id)
);
-- One live booking (seat or waitlist) per member per program.
CREATE UNIQUE INDEX bookings_one_live ON bookings (program_id, account_id)
    WHERE status IN ('booked', 'waitlisted', 'checked_in');
CREATE INDEX bookings_session_status ON bookings (session_id, status, id);
CREATE INDEX bookings_account ON bookings (account_id, id);

CREATE TABLE health_reports (
    id BIGSERIAL PRIMARY KEY,
    booking_id BIGINT NOT NULL UNIQUE REFERENCES bookings (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    program_id BIGINT NOT NULL REFERENCES programs (id),
    summary TEXT NOT NULL,
    pdf_key TEXT,
    created_by BIGINT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX health_reports_account ON health_reports (account_id, id);

-- Append-only: one row per claim, redemption, booking, cancellation, check-in, report ...
CREATE TABLE benefit_ledger (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    program_id BIGINT NOT NULL REFERENCES programs (id),
    kind TEXT NOT NULL,
    ref_id BIGINT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX benefit_ledger_account ON benefit_ledger (account_id, id);
CREATE INDEX benefit_ledger_program ON benefit_ledger (program_id, at);
