-- When a key's own quota started counting, in milliseconds since the epoch: a quota set on a
-- key that had already called counts from then, not from the start of its day or month. NULL
-- when it was set with the key (it counts the key's whole window).
ALTER TABLE api_keys ADD COLUMN quota_since BIGINT;
