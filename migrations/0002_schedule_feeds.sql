-- Scheduling and feeds: each watch's own schedule and robots.txt choice, the feed it came from,
-- and the feeds themselves.

ALTER TABLE watches ADD COLUMN schedule TEXT;
-- NULL: the [politeness] robots default; 0 or 1: this watch's own choice
ALTER TABLE watches ADD COLUMN robots INTEGER;
ALTER TABLE watches ADD COLUMN feed_id INTEGER REFERENCES feeds(id);
CREATE INDEX watches_due ON watches (next_check_at) WHERE removed_at IS NULL;

CREATE TABLE feeds (
    id             INTEGER PRIMARY KEY,
    url            TEXT NOT NULL UNIQUE,
    -- config or cli
    origin         TEXT NOT NULL,
    added_at       TEXT NOT NULL,
    removed_at     TEXT,
    schedule       TEXT,
    robots         INTEGER,
    etag           TEXT,
    last_modified  TEXT,
    last_polled_at TEXT,
    next_poll_at   TEXT,
    last_error     TEXT,
    -- articles that became watches through this feed
    discovered     INTEGER NOT NULL DEFAULT 0
);

-- Raw bodies are stored as content-defined chunks: pages of one site share their template, and
-- versions of one article share most of their bytes, so each distinct chunk is stored once.
-- A blob with compression 'chunks' holds, as data, the concatenated 32-byte SHA-256 digests of
-- its chunks in order; the body is their concatenation.
CREATE TABLE chunks (
    hash TEXT PRIMARY KEY,
    -- uncompressed size
    size INTEGER NOT NULL,
    -- zstd-compressed bytes
    data BLOB NOT NULL
);
