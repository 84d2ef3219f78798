-- When the key's owner disabled it, NULL while it is enabled. Unlike a revocation, disabling
-- can be undone: the key, its secrets, charts and limits stay as they are.
ALTER TABLE api_keys ADD COLUMN disabled_at BIGINT;
