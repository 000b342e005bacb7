-- Proofs a third party can check: ledger entries that commit to every stored column of the
-- rows they record, and the signed checkpoints published over the ledger's Merkle tree.
-- The hook that runs with this migration appends one attestation entry per version and event
-- already stored, committing to its full metadata (docs/LEDGER.md).

-- The metadata values a v2 entry commits to, as a JSON array in the order docs/LEDGER.md
-- gives (NULL for entries without metadata).
ALTER TABLE ledger ADD COLUMN meta TEXT;

-- Every signed checkpoint stet published: the tree head, the signed note, and what the
-- timestamp authority and the witnesses answered.
CREATE TABLE IF NOT EXISTS checkpoints (
    id              INTEGER PRIMARY KEY,
    tree_size       INTEGER NOT NULL,
    root_hash       TEXT NOT NULL,
    -- the signed note (C2SP tlog-checkpoint), with any witness cosignature lines added
    note            TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    tsa_url         TEXT,
    -- the RFC 3161 TimeStampToken (DER) over SHA-256 of the note as signed by stet
    timestamp_token BLOB,
    timestamp_error TEXT
);
CREATE INDEX IF NOT EXISTS checkpoints_by_size ON checkpoints (tree_size);

-- What each witness last accepted: the tree size the next add-checkpoint starts from.
CREATE TABLE IF NOT EXISTS witness_state (
    url        TEXT PRIMARY KEY,
    tree_size  INTEGER NOT NULL,
    root_hash  TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_error TEXT
);
