DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
        ALTER TABLE inbound_messages ALTER COLUMN raw_message SET COMPRESSION default;
        ALTER TABLE outbound_messages ALTER COLUMN raw_message SET COMPRESSION default;
        ALTER TABLE spam_lessons ALTER COLUMN raw_message SET COMPRESSION default;
        ALTER TABLE messages ALTER COLUMN text_body SET COMPRESSION default;
        ALTER TABLE messages ALTER COLUMN html_body SET COMPRESSION default;
        ALTER TABLE attachments ALTER COLUMN content SET COMPRESSION default;
    END IF;
END $$;

CREATE INDEX messages_message_id ON messages (channel_id, message_id_header);
