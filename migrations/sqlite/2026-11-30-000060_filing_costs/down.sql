CREATE INDEX messages_message_id ON messages (channel_id, message_id_header);
