-- What admins changed of the policy in the dashboard, laid over the policy file at every start
-- and every reload of it: one row per thing edited, so two admins editing different things
-- never overwrite each other. `id` names it: `plans` (the whole catalogue, JSON list of the
-- policy crate's Plan), `bucket:NAME` (that bucket's limit), `tier:NAME` (a pricing tier's
-- fees), `free_requests_per_minute`. The plan catalogue of 0007 moves here.
CREATE TABLE policy_edits (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

INSERT INTO policy_edits (id, body, updated_at, updated_by)
SELECT 'plans', plans, updated_at, updated_by FROM plan_catalogue;

DROP TABLE plan_catalogue;
