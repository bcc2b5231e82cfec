-- Staff call a session off (DELETE /v1/admin/sessions/{id}): the row stays, with its bookings
-- and their history, marked with when. A cancelled session takes no bookings and no edits.
ALTER TABLE health_sessions ADD COLUMN cancelled_at TIMESTAMP;
