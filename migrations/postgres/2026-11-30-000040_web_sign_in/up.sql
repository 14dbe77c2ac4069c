-- The web inbox: who may do what, and how a user proves who they are.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'agent'
    CHECK (role IN ('agent', 'admin'));
-- Argon2id, as a PHC string; NULL until set (set-password or a sign-in link).
ALTER TABLE users ADD COLUMN password_hash TEXT;

-- A signed-in browser. Only the SHA-256 of the cookie's token is stored, so
-- a copy of the database signs no one in. The CSRF token is the session's.
CREATE TABLE web_sessions (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- One-time sign-in links (teaminbox-admin user sign-in-link), hashed too.
CREATE TABLE sign_in_links (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
