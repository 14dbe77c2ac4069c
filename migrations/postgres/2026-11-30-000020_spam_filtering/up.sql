-- rspamd's verdict on an accepted message (NULL: not scanned): its action
-- ('no action', 'add header', 'rewrite subject') and score.
ALTER TABLE inbound_messages ADD COLUMN spam_action TEXT;
ALTER TABLE inbound_messages ADD COLUMN spam_score DOUBLE PRECISION;
-- Lessons for rspamd from the team's spam / not-spam decisions, delivered
-- by the daemon with retries. One per stored message and class; the raw
-- message is copied, so that retention cannot take it from a lesson due.
CREATE TABLE spam_lessons (
    id BIGSERIAL PRIMARY KEY,
    inbound_message_id BIGINT NOT NULL,
    class TEXT NOT NULL CHECK (class IN ('spam', 'ham')),
    raw_message BYTEA NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'processing', 'learned', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_at TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (inbound_message_id, class)
);
CREATE INDEX spam_lessons_due ON spam_lessons (state, next_attempt_at);
