-- How replies from a channel look, and its connect-and-finish step. Written
-- by the admin; read by the admin and the outbound composer.

-- The From name of a reply: 'agent-and-company' ("Jane Doe at Acme") or
-- 'company' ("Acme").
ALTER TABLE channels ADD COLUMN from_name_mode TEXT NOT NULL DEFAULT 'agent-and-company'
    CHECK (from_name_mode IN ('agent-and-company', 'company'));
-- A custom From address in a verified sending domain; NULL: the replying
-- user's USERNAME@[outbound] default_from_domain.
ALTER TABLE channels ADD COLUMN from_address TEXT;
-- Checked, simple HTML with {{sender.full_name}} and {{sender.first_name}}.
ALTER TABLE channels ADD COLUMN signature_html TEXT;
-- When the admin connected and finished (status 'connected'); from then on
-- the forwarding address cannot change.
ALTER TABLE channels ADD COLUMN finished_at TIMESTAMP;
-- The company form of the From name ("Acme"), lower case: a From name may
-- belong to one hosted address only, and the unique index makes that hold
-- even when two admins create channels at once.
ALTER TABLE channels ADD COLUMN company_from_name TEXT;
-- Existing channels that share a company: the first keeps the name, the
-- others stay NULL (unchecked) until their company changes, so this
-- migration cannot fail on an existing database.
UPDATE channels SET company_from_name = lower(company)
    WHERE id IN (SELECT min(id) FROM channels GROUP BY lower(company));
CREATE UNIQUE INDEX channels_company_from_name ON channels (company_from_name);

-- Domains the daemon sends mail from, each with its DKIM key and the DNS
-- record the admin publishes. A custom From address must be in a verified
-- one.
CREATE TABLE sending_domains (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Lower case.
    domain TEXT NOT NULL UNIQUE,
    selector TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    dns_txt TEXT NOT NULL,
    verified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
