DROP TABLE benefit_ledger;
DROP TABLE health_reports;
DROP TABLE bookings;
DROP TABLE health_sessions;
DROP TABLE draw_entries;
DROP TABLE vouchers;
DROP TABLE programs;
