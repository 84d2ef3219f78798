-- API keys. Only SHA-256 digests of secrets are kept; the plaintext is shown once at creation.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    -- The visible start of the current secret (prefix and first characters): enough to
    -- recognise a key, useless to call the API with.
    start TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    -- After a rotation the previous secret keeps working until previous_expires_at.
    previous_start TEXT,
    previous_secret_hash TEXT,
    previous_expires_at BIGINT,
    previous_last_used_at BIGINT,
    created_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    rotated_at BIGINT,
    revoked_at BIGINT
);

CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE UNIQUE INDEX api_keys_previous_secret_hash ON api_keys (previous_secret_hash);
CREATE INDEX api_keys_account_id ON api_keys (account_id);

-- Who changed what, when: key changes, plan changes, overrides, view-as sessions.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    -- The account the change concerns (its owner sees the entry); NULL for operator-wide changes.
    account_id TEXT REFERENCES accounts (id),
    actor_id TEXT,
    actor_email TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    before_value TEXT,
    after_value TEXT,
    reason TEXT,
    at BIGINT NOT NULL
);

CREATE INDEX audit_log_account_at ON audit_log (account_id, at);
CREATE INDEX audit_log_at ON audit_log (at);
