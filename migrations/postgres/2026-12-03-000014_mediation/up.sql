-- Rights protection, second part: mediators on a duty rota, agreements paid in instalments,
-- referrals to partner agencies, closing with the amount recovered, the follow-up call.

-- Staff of an org who mediate its cases (and those below it), with the weekdays they are on
-- duty: bit 0 Monday ... bit 6 Sunday.
CREATE TABLE mediators (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    duty_days INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX mediators_once ON mediators (org_id, account_id);
CREATE INDEX mediators_account ON mediators (account_id);

-- The mediator handling a case: an account, since a mediator may leave the rota later.
CREATE TABLE case_mediators (
    case_id BIGINT PRIMARY KEY REFERENCES cases (id),
    mediator_account_id BIGINT REFERENCES accounts (id),
    assigned_at TIMESTAMP NOT NULL,
    assigned_by BIGINT REFERENCES accounts (id)
);
CREATE INDEX case_mediators_account ON case_mediators (mediator_account_id);
-- rights::vocab::Outcome once closed: mediated, referred, withdrawn, unresolved.
ALTER TABLE cases ADD COLUMN outcome TEXT;
ALTER TABLE cases ADD COLUMN recovered_fen BIGINT;
-- The follow-up call after closing (每案必回访): 1 to 5, once.
ALTER TABLE cases ADD COLUMN rating INTEGER;
ALTER TABLE cases ADD COLUMN followed_up_at TIMESTAMP;

-- What the parties agreed in mediation: one agreement a case, paid in instalments.
CREATE TABLE case_agreements (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    total_fen BIGINT NOT NULL,
    -- Who pays, and who answers for it jointly (a head office for its branch), as staff wrote.
    payer TEXT NOT NULL,
    jointly_liable TEXT,
    signed_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES accounts (id)
);
CREATE UNIQUE INDEX case_agreements_once ON case_agreements (case_id);

CREATE TABLE case_instalments (
    id BIGSERIAL PRIMARY KEY,
    agreement_id BIGINT NOT NULL REFERENCES case_agreements (id),
    -- Due by the end of this day (Asia/Shanghai), stored as that day's start.
    due_on TIMESTAMP NOT NULL,
    amount_fen BIGINT NOT NULL,
    paid_at TIMESTAMP,
    recorded_by BIGINT REFERENCES accounts (id)
);
CREATE INDEX case_instalments_agreement ON case_instalments (agreement_id, due_on);

-- A case handed to a partner agency, with the one reply the worker gets.
CREATE TABLE case_referrals (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    -- rights::vocab::Agency.
    agency TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES accounts (id)
);
CREATE INDEX case_referrals_case ON case_referrals (case_id);
