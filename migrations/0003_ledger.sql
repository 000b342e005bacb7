-- The ledger: an append-only hash chain over every version, event and watch change.
-- Each entry is written in the same transaction as the row it records; its hash covers the
-- fields below as encoded in docs/LEDGER.md, including the previous entry's hash.

CREATE TABLE ledger (
    -- 1, 2, 3, ... without gaps
    seq          INTEGER PRIMARY KEY,
    -- version | event:captured | event:edited | event:deleted | event:restored
    -- | watch:added | watch:removed
    kind         TEXT NOT NULL,
    watch_url    TEXT NOT NULL,
    version_seq  INTEGER,
    at           TEXT NOT NULL,
    content_hash TEXT,
    body_hash    TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    -- the recorded row: versions.id, events.id or watches.id, as kind says (not hashed)
    row_id       INTEGER NOT NULL
);
CREATE INDEX ledger_by_row ON ledger (kind, row_id);
