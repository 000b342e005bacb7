-- Raw bodies of pages that were fetched but not parsed because they are over the extraction
-- budget (`too_complex`): the body is kept in `blobs` like any other, so what the site served
-- can still be shown and proven. Idempotent (IF NOT EXISTS), like every migration after the
-- ledger one: an archive rewound to before the ledger applies it again.
CREATE TABLE IF NOT EXISTS unparsed_bodies (
    id        INTEGER PRIMARY KEY,
    watch_id  INTEGER NOT NULL REFERENCES watches(id),
    at        TEXT NOT NULL,
    body_hash TEXT NOT NULL REFERENCES blobs(hash),
    -- why it was not parsed, as in the check's detail
    reason    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS unparsed_bodies_by_watch ON unparsed_bodies (watch_id, id);
