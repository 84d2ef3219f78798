-- What a key may do beyond being valid. `access` is 'full' or 'read' (GET, HEAD and OPTIONS
-- only); `allowed_ips` lists the address ranges requests may come from, separated by commas
-- ("203.0.113.0/24, 2001:db8::/32"), NULL for anywhere.
ALTER TABLE api_keys ADD COLUMN access TEXT NOT NULL DEFAULT 'full';
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT;
-- The client address of the last use, beside its time: which machine uses a key (what to put
-- in its allowed addresses), and during a rotation which one still sends the old secret.
ALTER TABLE api_keys ADD COLUMN last_used_from TEXT;
ALTER TABLE api_keys ADD COLUMN previous_last_used_from TEXT;
