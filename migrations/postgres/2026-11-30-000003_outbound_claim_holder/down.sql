ALTER TABLE outbound_messages DROP COLUMN claimed_by;
