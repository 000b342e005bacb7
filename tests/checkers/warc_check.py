"""Reads a WARC file with warcio, an independent reader, and checks every record and digest.

Usage: python3 tests/checkers/warc_check.py FILE.warc

Prints one JSON object: the number of records, the count per WARC-Type, and for each response
record its target URI and the SHA-256 of its payload as read back. Exits 1 when a record does
not parse or a WARC-Block-Digest / WARC-Payload-Digest does not match, 2 when warcio is missing.
"""

import hashlib
import json
import sys

try:
    from warcio.archiveiterator import ArchiveIterator
except ImportError:
    print(
        "warc_check.py: the Python package warcio is not installed; "
        "run `pip install warcio` (.ci/run does)",
        file=sys.stderr,
    )
    sys.exit(2)


def main(path):
    problems = []
    types = {}
    responses = []
    records = 0
    with open(path, "rb") as stream:
        it = ArchiveIterator(stream, check_digests=True)
        for record in it:
            records += 1
            rtype = record.rec_headers.get_header("WARC-Type")
            rid = record.rec_headers.get_header("WARC-Record-ID")
            types[rtype] = types.get(rtype, 0) + 1
            payload = record.raw_stream.read()
            if not record.rec_headers.get_header("WARC-Block-Digest"):
                problems.append(f"{rid}: no WARC-Block-Digest")
            if record.digest_checker.passed is not True:
                problems.append(
                    f"{rid}: digests not verified: {list(record.digest_checker.problems)}"
                )
            if rtype == "response":
                declared = record.rec_headers.get_header("WARC-Payload-Digest") or ""
                actual = hashlib.sha256(payload).hexdigest()
                if declared != "sha256:" + actual:
                    problems.append(f"{rid}: payload hashes to {actual}, declared {declared}")
                if record.http_headers is None:
                    problems.append(f"{rid}: no HTTP response headers")
                responses.append(
                    {
                        "uri": record.rec_headers.get_header("WARC-Target-URI"),
                        "date": record.rec_headers.get_header("WARC-Date"),
                        "status": record.http_headers.get_statuscode()
                        if record.http_headers
                        else None,
                        "payload_sha256": actual,
                    }
                )
    print(json.dumps({"records": records, "types": types, "responses": responses}))
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems or records == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
