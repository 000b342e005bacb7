-- The alert outbox: one row per event and sink that wants it, written in the same transaction as
-- the event, so an alert is never lost to a crash. The notifier delivers due rows and records
-- every attempt. Idempotent (IF NOT EXISTS): it is applied after 0004, and an archive rewound to
-- an earlier step applies it again harmlessly.

CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL REFERENCES events(id),
    -- the [[alert]] name
    sink            TEXT NOT NULL,
    -- sent with every delivery of this alert, so a receiver can drop repeats
    idempotency_key TEXT NOT NULL UNIQUE,
    -- pending | sent | failed | suppressed
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT,
    last_error      TEXT,
    sent_at         TEXT,
    UNIQUE (event_id, sink)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_sink ON outbox (sink, status, sent_at);

-- Every delivery attempt, with its error when it failed.
CREATE TABLE IF NOT EXISTS outbox_attempts (
    id        INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL REFERENCES outbox(id),
    at        TEXT NOT NULL,
    ok        INTEGER NOT NULL,
    error     TEXT
);
CREATE INDEX IF NOT EXISTS outbox_attempts_by_row ON outbox_attempts (outbox_id, id);
