-- PostgreSQL only (lz4 for raw mail and bodies); SQLite compresses nothing.
-- Kept so that both databases have the same migrations.
SELECT 1;
