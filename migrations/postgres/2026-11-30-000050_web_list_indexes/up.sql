-- The web inbox with a large inbox (BENCHMARKS.md, section 6). The list is
-- ordered by newest activity, then id, and paged by that key: one index
-- for all conversations, one per status (open, closed, spam), one per
-- assignee within a status (mine, unassigned: assignee_user_id IS NULL).
-- They also bound the filters' counts, which stop at a cap (views.rs).
CREATE INDEX conversations_activity ON conversations (last_message_at, id);
CREATE INDEX conversations_status_activity ON conversations (status, last_message_at, id);
CREATE INDEX conversations_assignee_activity
    ON conversations (assignee_user_id, status, last_message_at, id);
-- A conversation's page lists its messages' attachments and its replies'
-- deliveries: without these, each a scan of the whole table.
CREATE INDEX attachments_message ON attachments (message_id);
CREATE INDEX outbound_messages_conversation ON outbound_messages (conversation_id);
