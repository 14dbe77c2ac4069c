-- The explainable rejection log: one row for every message the milter
-- refused because of a security check or a deny list, so that an admin can
-- answer "why did my customer's mail bounce?". Written by the milter, read
-- by the admin.
CREATE TABLE rejections (
    id BIGSERIAL PRIMARY KEY,
    rejected_at TIMESTAMP NOT NULL,
    queue_id TEXT,
    client_address TEXT,
    client_name TEXT NOT NULL,
    helo TEXT NOT NULL,
    mail_from TEXT NOT NULL,
    header_from TEXT,
    -- A JSON array of the recipients, e.g. ["support@inbox.example.com"].
    recipients TEXT NOT NULL,
    smtp_code TEXT NOT NULL,
    enhanced_code TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX rejections_rejected_at ON rejections (rejected_at);

-- The allow and deny lists. Owned by the admin; read by the milter. Values
-- are canonical (lower-case addresses and domains, IP networks as
-- 192.0.2.0/24 or 2001:db8::/32), so the unique constraint means "listed
-- once".
CREATE TABLE filters (
    id BIGSERIAL PRIMARY KEY,
    list TEXT NOT NULL CHECK (list IN ('allow', 'deny')),
    kind TEXT NOT NULL CHECK (kind IN ('address', 'domain', 'ip')),
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (list, kind, value)
);
