ALTER TABLE vouchers DROP COLUMN reminded;
DROP INDEX bookings_open_offers;
ALTER TABLE bookings DROP COLUMN offer_expires_at;
