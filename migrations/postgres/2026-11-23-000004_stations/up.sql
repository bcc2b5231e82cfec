-- Rest stations (工会驿站). Coordinates are GCJ-02, the system of China's maps. Rows are never
-- deleted: a closed station stays for its visit history.
CREATE TABLE stations (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    -- Vocabulary codes, comma-separated in vocabulary order, e.g. "drinking_water,toilet".
    amenities TEXT NOT NULL,
    -- The week in the CSV syntax, canonical: "24h", "daily 08:00-20:00",
    -- "mon-fri 07:30-19:00; sat,sun 09:00-17:00", "fri 22:00-06:00" (past midnight), "closed".
    hours TEXT NOT NULL,
    -- Dates closed all day (Asia/Shanghai), comma-separated: "2027-02-06,2027-02-07".
    closed_dates TEXT NOT NULL,
    stars SMALLINT,
    phone TEXT,
    -- JSON array of photo URLs.
    photos TEXT NOT NULL,
    -- open, temporarily_closed or closed.
    status TEXT NOT NULL,
    -- The secret part of the door QR: a check-in needs to have scanned it.
    door_code TEXT NOT NULL UNIQUE,
    -- Unresolved fault reports; above zero the station is flagged in search.
    open_faults INTEGER NOT NULL DEFAULT 0,
    last_verified_at TIMESTAMP,
    created_by BIGINT REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- The stations_version value of the row's last change: instances reload what is newer.
    version BIGINT NOT NULL
);
CREATE INDEX stations_org ON stations (org_id, id);
CREATE INDEX stations_version_idx ON stations (version);

-- One row: bumped (and so locked) first in every transaction that changes a station, which
-- orders those transactions and makes "every version up to N is committed" hold.
CREATE TABLE stations_version (
    id SMALLINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO stations_version (id, version) VALUES (1, 0);

-- Counted check-ins (one per account and station per 30 minutes), with the civil date and hour
-- in Asia/Shanghai for the stats.
CREATE TABLE station_visits (
    id BIGSERIAL PRIMARY KEY,
    station_id BIGINT NOT NULL REFERENCES stations (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    at TIMESTAMP NOT NULL,
    local_date DATE NOT NULL,
    local_hour SMALLINT NOT NULL,
    member BOOLEAN NOT NULL
);
CREATE INDEX station_visits_station_date ON station_visits (station_id, local_date);

-- The last counted check-in per account and station: a conditional update on this row decides
-- whether a scan counts, atomically on both databases.
CREATE TABLE station_visit_windows (
    station_id BIGINT NOT NULL REFERENCES stations (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    counted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (station_id, account_id)
);

-- The message board: suggestions and fault reports, answered and resolved by staff.
CREATE TABLE station_feedback (
    id BIGSERIAL PRIMARY KEY,
    station_id BIGINT NOT NULL REFERENCES stations (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- suggestion or fault
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    -- open or resolved
    status TEXT NOT NULL,
    reply TEXT,
    replied_by BIGINT REFERENCES accounts (id),
    replied_at TIMESTAMP,
    resolved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX station_feedback_station ON station_feedback (station_id, id);
