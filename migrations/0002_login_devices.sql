-- Browsers that have logged in successfully: a device cookie holds the token, only its SHA-256
-- is kept. A recognised device skips the per-account login throttle, so an attacker guessing
-- one account's password from many addresses cannot lock its owner out.
CREATE TABLE login_devices (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX login_devices_user_id ON login_devices (user_id);
