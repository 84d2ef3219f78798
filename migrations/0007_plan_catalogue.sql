-- The plan catalogue as an admin last edited it (issue 6): the policy file's plans are the
-- default; once an admin edits them, this one row holds the whole catalogue (JSON, the policy
-- crate's Plan shape) and replaces the file's plans at every start.
CREATE TABLE plan_catalogue (
    id TEXT PRIMARY KEY,
    plans TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);
