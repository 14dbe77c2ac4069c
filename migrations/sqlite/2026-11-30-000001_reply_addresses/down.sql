CREATE TABLE inbound_recipients_old (
    inbound_message_id BIGINT NOT NULL REFERENCES inbound_messages (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    PRIMARY KEY (inbound_message_id, address)
);
INSERT INTO inbound_recipients_old (inbound_message_id, address, channel_id)
    SELECT inbound_message_id, address, channel_id FROM inbound_recipients
    WHERE channel_id IS NOT NULL;
DROP TABLE inbound_recipients;
ALTER TABLE inbound_recipients_old RENAME TO inbound_recipients;
ALTER TABLE messages DROP COLUMN detail;
DROP INDEX messages_message_id_header;
DROP INDEX messages_user;
ALTER TABLE messages DROP COLUMN user_id;
DROP TABLE hosted_local_parts;
