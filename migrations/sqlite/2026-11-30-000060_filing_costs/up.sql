-- messages_message_id (channel_id, message_id_header) goes, as on
-- PostgreSQL (see there): threads are found by messages_message_id_header,
-- and it is one index fewer to write per message.
DROP INDEX messages_message_id;
