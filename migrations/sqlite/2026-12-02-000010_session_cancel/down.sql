ALTER TABLE health_sessions DROP COLUMN cancelled_at;
