-- The addresses whose list rewrites a channel trusts (a Google Group that
-- rewrites From to itself, a mailbox whose forwarding confirmation arrived
-- authenticated). Written by the admin (origin 'admin') and the processor
-- (origin 'verification'); read by the processor, which believes
-- X-Original-From and friends only from an authenticated source, and counts
-- sources as participants of every conversation of the channel.
CREATE TABLE channel_sources (
    id BIGSERIAL PRIMARY KEY,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    -- Lower case.
    address TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('admin', 'verification')),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (channel_id, address)
);
