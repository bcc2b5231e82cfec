DROP TABLE broadcasts;
ALTER TABLE bookings DROP COLUMN reminded;
DROP TABLE notification_opt_outs;
DROP TABLE notification_deliveries;
DROP TABLE notifications;
