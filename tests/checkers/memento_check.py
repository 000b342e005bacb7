#!/usr/bin/env python3
"""A Memento client from PyPI (memento-client) against `stet serve`: it reads the TimeMap and
asks the TimeGate for the version of an article in force at given times.

usage: memento_check.py BASE_URL ORIGINAL_URL VERSIONS_JSON
"""
import json
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

from memento_client import MementoClient

base, original, versions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


def utc(rfc3339):
    t = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(timezone.utc)
    return t.replace(tzinfo=None)


captured = [utc(v["captured_at"]) for v in versions]
assert len(captured) == 3 and captured[1] - captured[0] >= timedelta(seconds=1), captured

# The TimeMap, read by the client's own link-format parser.
with urllib.request.urlopen(f"{base}/timemap/link/{original}") as r:
    assert r.headers["Content-Type"] == "application/link-format", r.headers["Content-Type"]
    links = MementoClient.parse_link_header(r.read().decode())
mementos = sorted(
    (MementoClient.convert_to_datetime(v["datetime"][0]), uri)
    for uri, v in links.items() if "memento" in v["rel"]
)
assert [m[1].rsplit("/", 1)[1] for m in mementos] == ["1", "2", "3"], mementos
assert [m[0] for m in mementos] == [c.replace(microsecond=0) for c in captured], mementos
assert MementoClient.get_uri_dt_for_rel(links, ["original"])["original"]["uri"] == original

client = MementoClient(timegate_uri=f"{base}/timegate/", check_native_timegate=False)
# Just after the first capture, before the second: version 1 was in force.
between = captured[0].replace(microsecond=0) + timedelta(seconds=1)
assert between < captured[1], (between, captured)
info = client.get_memento_info(original, between)
closest = info["mementos"]["closest"]
assert closest["uri"][0].endswith("/versions/1"), info
assert closest["datetime"] == captured[0].replace(microsecond=0), info
assert info["mementos"]["next"]["uri"][0].endswith("/versions/2"), info
# Long after the last capture: the last version.
info = client.get_memento_info(original, captured[2] + timedelta(days=30))
assert info["mementos"]["closest"]["uri"][0].endswith("/versions/3"), info
assert info["mementos"]["first"]["uri"][0].endswith("/versions/1"), info
print("memento-client found versions 1 and 3 through the TimeGate")
