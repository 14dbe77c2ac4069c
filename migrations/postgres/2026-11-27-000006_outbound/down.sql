DROP INDEX outbound_messages_due;
ALTER TABLE outbound_messages DROP COLUMN sent_at;
ALTER TABLE outbound_messages DROP COLUMN claimed_at;
ALTER TABLE outbound_messages DROP COLUMN next_attempt_at;
ALTER TABLE outbound_messages DROP COLUMN raw_message;
ALTER TABLE outbound_messages DROP COLUMN message_id_header;
ALTER TABLE outbound_messages DROP COLUMN from_address;
