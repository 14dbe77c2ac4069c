-- What filing a message costs the server (tests/bench/analysis.md).
--
-- messages_message_id (channel_id, message_id_header) goes: threads are
-- found by messages_message_id_header, and with two indexes that start with
-- channel_id PostgreSQL's generic plan for the processor's duplicate check
-- (channel_id, dedupe_key), made while the table was small, used this one
-- and filtered every message of the channel (1.2 ms a message after 6,000
-- and growing). Only the unique (channel_id, dedupe_key) index is left to
-- it. One index fewer to write per message, too.
DROP INDEX messages_message_id;

-- Raw mail, message bodies and attachments compressed with lz4 rather than
-- PostgreSQL's default pglz: the milter's insert of a 10 KB message took
-- 0.38 ms of the server's CPU with pglz and 0.14 ms with lz4
-- (tests/bench/analysis.md). Needs PostgreSQL 14 or later built with lz4
-- (Debian's is); elsewhere the columns keep pglz.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 140000 THEN
        BEGIN
            ALTER TABLE inbound_messages ALTER COLUMN raw_message SET COMPRESSION lz4;
            ALTER TABLE outbound_messages ALTER COLUMN raw_message SET COMPRESSION lz4;
            ALTER TABLE spam_lessons ALTER COLUMN raw_message SET COMPRESSION lz4;
            ALTER TABLE messages ALTER COLUMN text_body SET COMPRESSION lz4;
            ALTER TABLE messages ALTER COLUMN html_body SET COMPRESSION lz4;
            ALTER TABLE attachments ALTER COLUMN content SET COMPRESSION lz4;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'lz4 compression is not available (%); pglz stays', SQLERRM;
        END;
    END IF;
END $$;
