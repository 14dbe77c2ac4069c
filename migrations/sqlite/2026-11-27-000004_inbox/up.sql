-- The milter's ARC verdict named a trusted sealer: with DMARC pass, what
-- lets the processor trust identities from rewritten or forwarded content.
ALTER TABLE inbound_messages ADD COLUMN arc_trusted BOOLEAN NOT NULL DEFAULT FALSE;

-- People and routing: written by the admin, read by the processor.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    username TEXT NOT NULL,
    available BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE team_members (
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

-- How a channel routes and tickets its conversations.
ALTER TABLE channels ADD COLUMN assign_mode TEXT NOT NULL DEFAULT 'off'
    CHECK (assign_mode IN ('off', 'users-and-teams', 'contact-owner'));
ALTER TABLE channels ADD COLUMN assign_any_availability BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE channels ADD COLUMN tickets_enabled BOOLEAN NOT NULL DEFAULT TRUE;
-- JSON object: name, pipeline, stage, priority and custom keys.
ALTER TABLE channels ADD COLUMN ticket_properties TEXT NOT NULL DEFAULT '{}';
-- The latest provider forwarding confirmation, written by the processor.
ALTER TABLE channels ADD COLUMN verification_code TEXT;
ALTER TABLE channels ADD COLUMN verification_link TEXT;
ALTER TABLE channels ADD COLUMN verification_requested_by TEXT;
ALTER TABLE channels ADD COLUMN verification_received_at TIMESTAMP;

-- The users and teams a users-and-teams channel assigns to.
CREATE TABLE channel_assignees (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    team_id BIGINT REFERENCES teams (id) ON DELETE CASCADE,
    CHECK ((user_id IS NULL) <> (team_id IS NULL))
);

-- The inbox: written by the processor (and the admin's inbox operations).
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL UNIQUE,
    name TEXT,
    owner_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    contact_id BIGINT NOT NULL REFERENCES contacts (id),
    subject TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'spam')),
    kind TEXT NOT NULL DEFAULT 'normal' CHECK (kind IN ('normal', 'verification')),
    assignee_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    last_message_at TIMESTAMP NOT NULL
);
CREATE INDEX conversations_channel ON conversations (channel_id, id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    inbound_message_id BIGINT REFERENCES inbound_messages (id),
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    -- The Message-ID, or a content hash when there is none: a retried or
    -- duplicated message never becomes a second message of the channel.
    dedupe_key TEXT NOT NULL,
    message_id_header TEXT,
    from_address TEXT NOT NULL,
    from_name TEXT,
    forwarded_by TEXT,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    sent_at TIMESTAMP,
    automated BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON array of sentences: why this contact, thread, ticket, assignee.
    decisions TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (channel_id, dedupe_key)
);
CREATE INDEX messages_message_id ON messages (channel_id, message_id_header);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_id TEXT,
    inline BOOLEAN NOT NULL,
    content BLOB NOT NULL
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT NOT NULL UNIQUE REFERENCES conversations (id),
    name TEXT NOT NULL,
    pipeline TEXT,
    stage TEXT,
    priority TEXT,
    -- JSON object of custom properties.
    properties TEXT NOT NULL,
    owner_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);

-- Round robin: when each user last got a conversation from each channel.
CREATE TABLE channel_assignment_state (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_assigned_at TIMESTAMP NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);

-- Mail the daemon sends: notifications now, replies later. The processor
-- and the admin enqueue; the outbound stage delivers.
CREATE TABLE outbound_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id BIGINT REFERENCES conversations (id),
    kind TEXT NOT NULL CHECK (kind IN ('notification', 'reply')),
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'processing', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL
);
