-- Usage rollups (issue 4 §5), written by the `usage` crate. Gateway nodes count requests in
-- memory and add them here in batches, at most once a second, with additive upserts
-- (`ON CONFLICT … DO UPDATE SET requests = usage_minutes.requests + excluded.requests`), so any
-- number of nodes can flush into one database. Usage is never written per request.
--
-- bucket_start: the UTC minute, hour or day the counts belong to, epoch milliseconds.
-- key_id: '' for calls made without an API key (NOT NULL, so the primary key works the same on
--   SQLite and PostgreSQL).
-- bucket: the route's category bucket ('reads', 'scans', …), '' for a route that has none.
-- requests: every request, admitted or limited; limited: the refused ones among them (so
--   admitted = requests - limited); cost: the units the requests charged their buckets (the
--   route's cost, 1 unless the policy weighs it more). Money is billing's job (seed 000 prices
--   by the minute, from usage_account_minutes).
-- The primary keys lead with account_id then bucket_start: every query reads one account over
-- a time range. Retention deletes by bucket_start alone, hence the extra indexes.

-- Kept 48 hours.
CREATE TABLE usage_minutes (
    account_id TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    requests BIGINT NOT NULL,
    limited BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket_start, key_id, bucket)
);

CREATE INDEX usage_minutes_bucket_start ON usage_minutes (bucket_start);

-- Kept 90 days.
CREATE TABLE usage_hours (
    account_id TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    requests BIGINT NOT NULL,
    limited BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket_start, key_id, bucket)
);

CREATE INDEX usage_hours_bucket_start ON usage_hours (bucket_start);

-- Kept forever.
CREATE TABLE usage_days (
    account_id TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    requests BIGINT NOT NULL,
    limited BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket_start, key_id, bucket)
);

-- Per account and minute, all keys and buckets together, kept 70 days: billing needs each
-- minute of a whole billing month (peak requests per minute, requests above the free number per
-- minute), longer than usage_minutes is kept, and 70 days covers the current and the previous
-- billing month whatever the anchor day.
CREATE TABLE usage_account_minutes (
    account_id TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    limited BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket_start)
);

CREATE INDEX usage_account_minutes_bucket_start ON usage_account_minutes (bucket_start);
