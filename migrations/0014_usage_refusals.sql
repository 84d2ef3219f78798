-- The latest refused requests of each account (at most 100 per account, trimmed at each flush),
-- so its owner can see which key, route and limit a failed call met. `at` is epoch
-- milliseconds; `status` 429 or 403; `bucket` the refusing bucket, `spend_cap` or `restricted`.
CREATE TABLE usage_refusals (
    account_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status BIGINT NOT NULL,
    bucket TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX usage_refusals_by_account ON usage_refusals (account_id, at);
