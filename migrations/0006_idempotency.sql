-- Idempotency-Key records (seed 002): the first POST with a key runs; a retry with the same key
-- and body gets the stored response; records expire after 24 hours.
CREATE TABLE idempotency_records (
    account_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of method, path and body: a different request under the same key is refused.
    fingerprint TEXT NOT NULL,
    -- NULL while the first request is still running.
    response_status BIGINT,
    response_headers TEXT,
    -- Base64: portable across SQLite BLOB and PostgreSQL BYTEA.
    response_body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, idempotency_key)
);

CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);
