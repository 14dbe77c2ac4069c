ALTER TABLE inbound_messages DROP COLUMN header_from;
ALTER TABLE inbound_messages DROP COLUMN spam;
ALTER TABLE inbound_messages DROP COLUMN dmarc;
ALTER TABLE inbound_messages DROP COLUMN arc;
ALTER TABLE inbound_messages DROP COLUMN dkim;
ALTER TABLE inbound_messages DROP COLUMN spf;
