-- Proofs a third party can check, as SQLite's 0008_ledger_proofs.sql: ledger entries that
-- commit to every stored column of the rows they record, and the signed checkpoints published
-- over the ledger's Merkle tree. A PostgreSQL archive never held entries without metadata, so
-- it needs no attestation entries.

-- The metadata values a v2 entry commits to, as a JSON array in the order docs/LEDGER.md
-- gives (NULL for entries without metadata).
ALTER TABLE ledger ADD COLUMN meta TEXT;

-- Every signed checkpoint stet published: the tree head, the signed note, and what the
-- timestamp authority and the witnesses answered.
CREATE TABLE checkpoints (
    id              BIGSERIAL PRIMARY KEY,
    tree_size       BIGINT NOT NULL,
    root_hash       TEXT NOT NULL,
    -- the signed note (C2SP tlog-checkpoint), with any witness cosignature lines added
    note            TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    tsa_url         TEXT,
    -- the RFC 3161 TimeStampToken (DER) over SHA-256 of the note as signed by stet
    timestamp_token BYTEA,
    timestamp_error TEXT
);
CREATE INDEX checkpoints_by_size ON checkpoints (tree_size);

-- What each witness last accepted: the tree size the next add-checkpoint starts from.
CREATE TABLE witness_state (
    url        TEXT PRIMARY KEY,
    tree_size  BIGINT NOT NULL,
    root_hash  TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_error TEXT
);
