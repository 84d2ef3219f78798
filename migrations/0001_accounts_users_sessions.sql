-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Ids are TEXT, instants are BIGINT milliseconds since the Unix epoch (UTC).

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    -- Day of the month (1-31) on which the monthly quota resets, 00:00 UTC.
    billing_anchor_day BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    -- NULL for operator staff (admin, support), who belong to no customer account.
    account_id TEXT REFERENCES accounts (id),
    email TEXT NOT NULL,
    -- Lower-cased email: uniqueness and look-ups ignore case.
    email_normalized TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- owner | member (customers), admin | support (operators)
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX users_email_normalized ON users (email_normalized);
CREATE INDEX users_account_id ON users (account_id);

-- tower-sessions records; `data` is the session's JSON.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);
