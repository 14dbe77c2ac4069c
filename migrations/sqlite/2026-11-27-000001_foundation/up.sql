-- Channels: one hosted forwarding address each. Owned by the admin; read by
-- the milter (address lookup) and the processor.
CREATE TABLE channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    company TEXT NOT NULL,
    -- Lower case; the unique index makes "one channel per address" hold even
    -- when two admins create channels at once.
    forwarding_address TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'connected')),
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);

-- The queue between the milter and the processor. A row is written in one
-- transaction before the milter answers the MTA.
CREATE TABLE inbound_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id TEXT,
    received_at TIMESTAMP NOT NULL,
    client_address TEXT,
    client_name TEXT NOT NULL,
    helo TEXT NOT NULL,
    mail_from TEXT NOT NULL,
    message_size BIGINT NOT NULL,
    raw_message BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'processing', 'done', 'failed')),
    claimed_by TEXT,
    claimed_at TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX inbound_messages_state ON inbound_messages (state, id);

-- The hosted recipients of a stored message, each with its channel.
CREATE TABLE inbound_recipients (
    inbound_message_id BIGINT NOT NULL REFERENCES inbound_messages (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    PRIMARY KEY (inbound_message_id, address)
);
