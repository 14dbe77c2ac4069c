DROP TABLE channel_sources;
