-- What the SMTP-time checks found, for the processor and the admin.
-- NULL: the checks did not run (trusted network, authenticated submission,
-- or checks disabled).
ALTER TABLE inbound_messages ADD COLUMN spf TEXT;
ALTER TABLE inbound_messages ADD COLUMN dkim TEXT;
ALTER TABLE inbound_messages ADD COLUMN arc TEXT;
ALTER TABLE inbound_messages ADD COLUMN dmarc TEXT;
-- DMARC failed with policy quarantine: the processor files it as spam.
ALTER TABLE inbound_messages ADD COLUMN spam BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE inbound_messages ADD COLUMN header_from TEXT;
