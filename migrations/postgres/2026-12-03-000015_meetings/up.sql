-- Mediation meetings of a case: when, where (a mediation room, a rest station, a video link),
-- and whether the respondent is invited.
CREATE TABLE case_meetings (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    starts_at TIMESTAMP NOT NULL,
    -- rights::vocab::Venue: room, station, video.
    venue TEXT NOT NULL,
    place TEXT NOT NULL,
    respondent_invited BOOLEAN NOT NULL,
    created_by BIGINT REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX case_meetings_case ON case_meetings (case_id, starts_at);
