-- A million watches: the daemon finds what is due through this index (never-checked watches
-- first, then by due time), reading only the rows it takes, however many watches there are.
-- Idempotent (IF NOT EXISTS), as an archive rewound to an earlier step applies it again.

CREATE INDEX IF NOT EXISTS watches_due ON watches (next_check_at) WHERE removed_at IS NULL;
