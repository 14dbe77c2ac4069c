-- Delivery state of outbound mail, owned by the outbound stage. A reply is
-- composed (and DKIM-signed) when it is queued, so a retry after a restart
-- sends the same bytes with the same Message-ID.
ALTER TABLE outbound_messages ADD COLUMN from_address TEXT;
ALTER TABLE outbound_messages ADD COLUMN message_id_header TEXT;
ALTER TABLE outbound_messages ADD COLUMN raw_message BLOB;
ALTER TABLE outbound_messages ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE outbound_messages ADD COLUMN claimed_at TIMESTAMP;
ALTER TABLE outbound_messages ADD COLUMN sent_at TIMESTAMP;
CREATE INDEX outbound_messages_due ON outbound_messages (state, next_attempt_at);
