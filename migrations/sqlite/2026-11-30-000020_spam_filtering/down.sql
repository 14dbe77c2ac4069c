DROP TABLE spam_lessons;
ALTER TABLE inbound_messages DROP COLUMN spam_score;
ALTER TABLE inbound_messages DROP COLUMN spam_action;
