-- Raw bodies of pages that were fetched but not parsed because they are over the extraction
-- budget (`too_complex`), as SQLite's 0007_robust.sql: the body is kept in `blobs` like any
-- other, so what the site served can still be shown and proven.
CREATE TABLE unparsed_bodies (
    id        BIGSERIAL PRIMARY KEY,
    watch_id  BIGINT NOT NULL REFERENCES watches(id),
    at        TEXT NOT NULL,
    body_hash TEXT NOT NULL REFERENCES blobs(hash),
    -- why it was not parsed, as in the check's detail
    reason    TEXT NOT NULL
);
CREATE INDEX unparsed_bodies_by_watch ON unparsed_bodies (watch_id, id);
