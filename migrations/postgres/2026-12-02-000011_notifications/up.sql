-- The outbox (platform::outbox): what the service tells a member, written in the transaction
-- of the change that causes it. The notification is the member's inbox; each further channel
-- (SMS) is a delivery row a dispatcher claims, sends and marks. Texts never carry personal
-- data beyond names of programs, sites and orgs, and times.
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    -- What it is about (outbox::Topic), e.g. seat_promoted.
    topic TEXT NOT NULL,
    -- The record it is about, e.g. booking:12: with the topic, once per member.
    subject TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP
);
CREATE UNIQUE INDEX notifications_once ON notifications (account_id, topic, subject);
-- The inbox, newest first; the unread count.
CREATE INDEX notifications_inbox ON notifications (account_id, id);
CREATE INDEX notifications_unread ON notifications (account_id) WHERE read_at IS NULL;

CREATE TABLE notification_deliveries (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    -- outbox::Channel, e.g. sms.
    channel TEXT NOT NULL,
    -- Not before (quiet hours, the wait after a failed attempt).
    due_at TIMESTAMP NOT NULL,
    -- A dispatcher holds it until then.
    leased_until TIMESTAMP,
    attempts INTEGER NOT NULL,
    sent_at TIMESTAMP,
    given_up_at TIMESTAMP
);
CREATE UNIQUE INDEX notification_deliveries_once ON notification_deliveries (notification_id, channel);
-- What is still to send, in the order it falls due.
CREATE INDEX notification_deliveries_due ON notification_deliveries (due_at, id)
    WHERE sent_at IS NULL AND given_up_at IS NULL;

-- Topics a member turned off by SMS; the inbox keeps them.
CREATE TABLE notification_opt_outs (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    topic TEXT NOT NULL,
    PRIMARY KEY (account_id, topic)
);

-- How many of its two reminders a booking has had (benefits::reminders): the sweep that
-- writes them looks for bookings behind, not through the outbox.
ALTER TABLE bookings ADD COLUMN reminded INTEGER NOT NULL DEFAULT 0;

-- Staff messages to the members of an org's subtree (benefits::broadcasts): what was sent, to
-- whom by filter, how many it reached. Each recipient's copy is a notification.
CREATE TABLE broadcasts (
    id BIGSERIAL PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    occupation TEXT,
    platform TEXT,
    program_id BIGINT REFERENCES programs (id),
    recipients BIGINT NOT NULL,
    -- The staff account that sent it.
    sent_by BIGINT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL
);
-- An org's broadcasts newest first; the ones of the last day, for the limit.
CREATE INDEX broadcasts_org ON broadcasts (org_id, created_at);
