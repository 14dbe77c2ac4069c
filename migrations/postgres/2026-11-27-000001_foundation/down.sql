DROP TABLE inbound_recipients;
DROP TABLE inbound_messages;
DROP TABLE channels;
