-- Stored responses are sealed with the data key from now on; the ones stored before in clear
-- (token pairs among them) are dropped. A retry of one of them runs again, as after 24 hours.
DELETE FROM idempotency_keys;
