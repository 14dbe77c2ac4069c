-- Which worker (host:pid:n) holds a delivery's claim, so that a daemon
-- that starts can give back at once the claims of its host's dead
-- processes, as it does for the inbound queue.
ALTER TABLE outbound_messages ADD COLUMN claimed_by TEXT;
