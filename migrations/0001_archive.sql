-- The archive: watched URLs, content-addressed raw bodies, versions, checks and events.
-- Applied once, in order, by `store::open`; the applied count is recorded in PRAGMA user_version.
-- Never edit a released migration: add a new file.

CREATE TABLE watches (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    -- where the watch came from: config, cli or feed
    origin          TEXT NOT NULL,
    added_at        TEXT NOT NULL,
    -- set by `watch rm` (or removal from the config); history is kept
    removed_at      TEXT,
    -- new | live | deleted
    status          TEXT NOT NULL DEFAULT 'new',
    gone_streak     INTEGER NOT NULL DEFAULT 0,
    error_streak    INTEGER NOT NULL DEFAULT 0,
    etag            TEXT,
    last_modified   TEXT,
    last_checked_at TEXT,
    next_check_at   TEXT
);

-- Raw response bodies, keyed by the SHA-256 of the uncompressed bytes; identical bodies are
-- stored once.
CREATE TABLE blobs (
    hash        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    compression TEXT NOT NULL,
    data        BLOB NOT NULL
);

CREATE TABLE versions (
    id             INTEGER PRIMARY KEY,
    watch_id       INTEGER NOT NULL REFERENCES watches(id),
    seq            INTEGER NOT NULL,
    captured_at    TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    loose_hash     TEXT NOT NULL,
    body_hash      TEXT NOT NULL REFERENCES blobs(hash),
    http_status    INTEGER NOT NULL,
    final_url      TEXT NOT NULL,
    title          TEXT NOT NULL,
    byline         TEXT,
    published      TEXT,
    modified       TEXT,
    canonical_url  TEXT,
    -- the canonical text (see docs/ARCHITECTURE.md), zstd-compressed
    text_zstd      BLOB NOT NULL,
    UNIQUE (watch_id, seq)
);
CREATE INDEX versions_by_content ON versions (watch_id, content_hash);

-- What each check saw. Consecutive `unchanged` checks of the same version are folded into one
-- row (first_at, last_at, count).
-- (The store folds an unchanged check into the row of the check it confirms.)
CREATE TABLE checks (
    id          INTEGER PRIMARY KEY,
    watch_id    INTEGER NOT NULL REFERENCES watches(id),
    kind        TEXT NOT NULL,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    -- checks in the run. Written as a REAL, which takes 8 bytes whatever its value: SQLite
    -- stores small integers in fewer bytes (0 and 1 in none), so an integer count would grow
    -- the row, and the file, on the first unchanged check after every capture.
    count       NOT NULL DEFAULT 1.0,
    http_status INTEGER,
    version_seq INTEGER,
    detail      TEXT
);
CREATE INDEX checks_by_watch ON checks (watch_id, id);

-- Transitions: captured, edited, deleted, restored.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    watch_id     INTEGER NOT NULL REFERENCES watches(id),
    kind         TEXT NOT NULL,
    at           TEXT NOT NULL,
    version_seq  INTEGER,
    from_seq     INTEGER,
    significance TEXT,
    reverted_to  INTEGER,
    detail       TEXT
);
CREATE INDEX events_by_watch ON events (watch_id, id);
