-- A seat offered from the waitlist (benefits::waitlist): the time by which the member confirms
-- or releases it; NULL once confirmed, and for every seat booked directly. The partial index
-- is what the lapse sweep reads: only offers still open are in it.
ALTER TABLE bookings ADD COLUMN offer_expires_at TIMESTAMP;
CREATE INDEX bookings_open_offers ON bookings (offer_expires_at) WHERE offer_expires_at IS NOT NULL;

-- Whether a voucher has had its reminder before it expires (benefits::reminders); the sweep
-- reads the issued vouchers near their end that have not, by vouchers_expiry.
ALTER TABLE vouchers ADD COLUMN reminded INTEGER NOT NULL DEFAULT 0;
