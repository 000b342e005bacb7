#!/usr/bin/env python3
"""Adds N bare watches (each with one `edited` event, no version) to an archive, in one
transaction, so the watch list can be measured at 100,000 watches without checking 100,000
pages. The rows have no ledger entries: use it on a throwaway copy, never on a real archive
(`stet verify` would rightly fail on it).

usage: many_watches.py COPY_OF_ARCHIVE.db N
"""
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

path, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
start = datetime(2026, 1, 1, tzinfo=timezone.utc)
with db:
    first = db.execute("SELECT coalesce(max(id), 0) FROM watches").fetchone()[0] + 1
    for i in range(first, first + n):
        at = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        db.execute(
            "INSERT INTO watches (id, url, origin, added_at, status) VALUES (?, ?, 'cli', ?, 'live')",
            (i, f"https://site{i % 50}.example/{i:06}/story", at),
        )
        db.execute(
            "INSERT INTO events (watch_id, kind, at, significance) VALUES (?, 'edited', ?, ?)",
            (i, at, "substantive" if i % 3 else "minor"),
        )
print(db.execute("SELECT count(*) FROM watch_summary").fetchone()[0], "watches")
