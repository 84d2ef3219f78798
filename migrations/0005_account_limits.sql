-- What the gateway needs to know of an account beyond its plan.
-- A disabled account's keys are refused (401) on every node.
ALTER TABLE accounts ADD COLUMN disabled_at BIGINT;
-- The account's monthly spend cap in cents (seed 002: budget is per account); NULL: no cap.
ALTER TABLE accounts ADD COLUMN spend_cap_cents BIGINT;

-- Per-account limits that replace the plan's (e.g. an Enterprise contract), by bucket name.
CREATE TABLE account_overrides (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    bucket TEXT NOT NULL,
    limit_value BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket)
);
