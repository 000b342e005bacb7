-- The archive in PostgreSQL: the same tables as the SQLite migrations 0001-0004, with the
-- columns several workers need to share it (leases on watches and outbox rows, host claims).
-- Applied once, in order, by `store::open`; each applied file is recorded in
-- stet_migrations. Never edit a released migration: add a new file.
-- Times are RFC 3339 text, as in SQLite: the ledger hashes them as written.

CREATE TABLE feeds (
    id             BIGSERIAL PRIMARY KEY,
    url            TEXT NOT NULL UNIQUE,
    origin         TEXT NOT NULL,
    added_at       TEXT NOT NULL,
    removed_at     TEXT,
    schedule       TEXT,
    robots         BOOLEAN,
    etag           TEXT,
    last_modified  TEXT,
    last_polled_at TEXT,
    next_poll_at   TEXT,
    last_error     TEXT,
    discovered     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE watches (
    id              BIGSERIAL PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    origin          TEXT NOT NULL,
    added_at        TEXT NOT NULL,
    removed_at      TEXT,
    status          TEXT NOT NULL DEFAULT 'new',
    gone_streak     BIGINT NOT NULL DEFAULT 0,
    error_streak    BIGINT NOT NULL DEFAULT 0,
    etag            TEXT,
    last_modified   TEXT,
    last_checked_at TEXT,
    next_check_at   TEXT,
    schedule        TEXT,
    robots          BOOLEAN,
    feed_id         BIGINT REFERENCES feeds(id),
    -- the URL's host: workers claim due work host by host, so that one host's politeness
    -- (per_host, min_delay) is kept by one worker at a time
    host            TEXT NOT NULL DEFAULT '',
    -- the worker that claimed this watch for a check, and until when; an expired lease is
    -- claimed again by another worker
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ
);
CREATE INDEX watches_due ON watches (next_check_at) WHERE removed_at IS NULL;
CREATE INDEX watches_due_new ON watches (id) WHERE removed_at IS NULL AND next_check_at IS NULL;
CREATE INDEX watches_by_host ON watches (host) WHERE removed_at IS NULL;

-- A host claimed by a worker: while the lease runs, only that worker checks the host's watches.
CREATE TABLE host_claims (
    host        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);

CREATE TABLE blobs (
    hash        TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    compression TEXT NOT NULL,
    data        BYTEA NOT NULL
);

-- Body chunks; with [storage] blobs = "s3://...", their bytes live in the object store under
-- their hash and `data` is NULL.
CREATE TABLE chunks (
    hash TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    data BYTEA
);

CREATE TABLE versions (
    id             BIGSERIAL PRIMARY KEY,
    watch_id       BIGINT NOT NULL REFERENCES watches(id),
    seq            BIGINT NOT NULL,
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
    text_zstd      BYTEA NOT NULL,
    UNIQUE (watch_id, seq)
);
CREATE INDEX versions_by_content ON versions (watch_id, content_hash);

CREATE TABLE checks (
    id          BIGSERIAL PRIMARY KEY,
    watch_id    BIGINT NOT NULL REFERENCES watches(id),
    kind        TEXT NOT NULL,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    count       BIGINT NOT NULL DEFAULT 1,
    http_status INTEGER,
    version_seq BIGINT,
    detail      TEXT
);
CREATE INDEX checks_by_watch ON checks (watch_id, id);

CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    watch_id     BIGINT NOT NULL REFERENCES watches(id),
    kind         TEXT NOT NULL,
    at           TEXT NOT NULL,
    version_seq  BIGINT,
    from_seq     BIGINT,
    significance TEXT,
    reverted_to  BIGINT,
    detail       TEXT
);
CREATE INDEX events_by_watch ON events (watch_id, id);

-- One chain for all workers: appends take a transaction-scoped advisory lock first.
CREATE TABLE ledger (
    seq          BIGINT PRIMARY KEY,
    kind         TEXT NOT NULL,
    watch_url    TEXT NOT NULL,
    version_seq  BIGINT,
    at           TEXT NOT NULL,
    content_hash TEXT,
    body_hash    TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    row_id       BIGINT NOT NULL
);
CREATE INDEX ledger_by_row ON ledger (kind, row_id);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_id        BIGINT NOT NULL REFERENCES events(id),
    sink            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT,
    last_error      TEXT,
    sent_at         TEXT,
    -- the worker delivering this row, and until when
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    UNIQUE (event_id, sink)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_sink ON outbox (sink, status, sent_at);

CREATE TABLE outbox_attempts (
    id        BIGSERIAL PRIMARY KEY,
    outbox_id BIGINT NOT NULL REFERENCES outbox(id),
    at        TEXT NOT NULL,
    ok        BOOLEAN NOT NULL,
    error     TEXT
);
CREATE INDEX outbox_attempts_by_row ON outbox_attempts (outbox_id, id);
