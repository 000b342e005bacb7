"""Recomputes a stet ledger from its SQLite file with nothing but the Python standard library,
following docs/LEDGER.md, and prints the head as `COUNT:HASH`.

Usage: python3 tests/checkers/ledger_recompute.py stet.db [--leaves]

With --leaves, prints instead each entry's encoding (the Merkle tree's leaf data) in hex, one
per line, in order.

Exits 1 (naming the entry) when a stored hash or link does not match the recomputation.
"""

import hashlib
import json
import sqlite3
import struct
import sys

TAG = "stet-ledger-v1"
TAG_V2 = "stet-ledger-v2"
GENESIS = "0" * 64
ABSENT = 0xFFFFFFFF


def encode(fields):
    out = b""
    for field in fields:
        if field is None:
            out += struct.pack(">I", ABSENT)
            continue
        data = field.encode("utf-8")
        out += struct.pack(">I", len(data)) + data
    return out


def main(path, leaves):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT seq, kind, watch_url, version_seq, at, content_hash, body_hash, prev_hash, hash,"
        " meta FROM ledger ORDER BY seq"
    )
    prev, count = GENESIS, 0
    for seq, kind, url, version, at, content, body, stored_prev, stored, meta in rows:
        count += 1
        if seq != count or stored_prev != prev:
            print(f"entry {seq}: does not link to entry {count - 1}", file=sys.stderr)
            return 1
        fields = [TAG if meta is None else TAG_V2, str(seq), prev, kind, url,
                  "" if version is None else str(version), at, content or "", body or ""]
        if meta is not None:
            fields += json.loads(meta)
        encoded = encode(fields)
        digest = hashlib.sha256(encoded).hexdigest()
        if digest != stored:
            print(f"entry {seq}: recomputes to {digest}, stored {stored}", file=sys.stderr)
            return 1
        if leaves:
            print(encoded.hex())
        prev = digest
    if not leaves:
        print(f"{count}:{prev}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--leaves" in sys.argv[2:]))
