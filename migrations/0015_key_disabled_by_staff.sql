-- Why keystile staff disabled the key (their reason, also in the audit log); NULL when it is
-- enabled or its owner disabled it. A key staff disabled can be enabled by staff only.
ALTER TABLE api_keys ADD COLUMN staff_disable_reason TEXT;
