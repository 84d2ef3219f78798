-- A key's own quota, set by its owner below the plan's: at most `quota_limit` requests per
-- `quota_period` ('day' or 'month', the account's billing month). NULL for none.
ALTER TABLE api_keys ADD COLUMN quota_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN quota_period TEXT;
