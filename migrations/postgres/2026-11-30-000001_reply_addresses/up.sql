-- Customers' answers to a reply's default From address
-- (USERNAME@[outbound] default_from_domain) come back in, and subaddresses
-- (LOCAL+DETAIL@) reach their channel or user.

-- The local parts of hosted addresses and whose they are: the reply address
-- of one user, or (user_id NULL) the forwarding addresses of channels. The
-- primary key makes a username and a forwarding address that collide
-- impossible, whichever comes second, even when two admins write at once.
-- Written by the admin; read by the milter at RCPT.
CREATE TABLE hosted_local_parts (
    local_part TEXT PRIMARY KEY,
    user_id BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE
);
INSERT INTO hosted_local_parts (local_part)
    SELECT DISTINCT split_part(forwarding_address, '@', 1) FROM channels;
-- Existing users whose username is already a plain local part (as
-- identity::local_part keeps it); the first user wins, and a channel's
-- address wins over any user.
INSERT INTO hosted_local_parts (local_part, user_id)
    SELECT DISTINCT ON (lower(trim(username))) lower(trim(username)), id FROM users
    WHERE lower(trim(username)) ~ '^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*$'
    ORDER BY lower(trim(username)), id
    ON CONFLICT DO NOTHING;

-- Who wrote a sent message (direction 'out'): a user has a live reply
-- address once they have replied. Filled in for earlier replies from the
-- decision the admin recorded ("Reply by EMAIL queued ...").
ALTER TABLE messages ADD COLUMN user_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
UPDATE messages SET user_id = (
        SELECT users.id FROM users
        WHERE messages.decisions LIKE '["Reply by ' || users.email || ' queued %'
        ORDER BY users.id LIMIT 1)
    WHERE direction = 'out';
CREATE INDEX messages_user ON messages (user_id, id);
-- An answer to a reply address is matched by Message-ID across channels.
CREATE INDEX messages_message_id_header ON messages (message_id_header);
-- The subaddress detail of the recipient it was filed by (support+billing@
-- gives "billing").
ALTER TABLE messages ADD COLUMN detail TEXT;

-- A hosted recipient is a channel's forwarding address or a user's reply
-- address (the processor chooses the channel), with its subaddress detail.
ALTER TABLE inbound_recipients ALTER COLUMN channel_id DROP NOT NULL;
ALTER TABLE inbound_recipients ADD COLUMN user_id BIGINT REFERENCES users (id);
ALTER TABLE inbound_recipients ADD COLUMN detail TEXT;
ALTER TABLE inbound_recipients ADD CONSTRAINT inbound_recipients_one_owner
    CHECK ((channel_id IS NULL) <> (user_id IS NULL));
