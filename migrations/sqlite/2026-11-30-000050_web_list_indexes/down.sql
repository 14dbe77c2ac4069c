DROP INDEX outbound_messages_conversation;
DROP INDEX attachments_message;
DROP INDEX conversations_assignee_activity;
DROP INDEX conversations_status_activity;
DROP INDEX conversations_activity;
