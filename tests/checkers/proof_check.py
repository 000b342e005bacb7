"""Checks a `stet proof` file the way docs/LEDGER.md describes, with no stet code: Python's
standard library for the hashes and the Merkle fold (RFC 9162 section 2.1.3.2), openssl for the
Ed25519 signature of the checkpoint.

Usage: python3 tests/checkers/proof_check.py FILE PUBKEY

Prints what the file proves and exits 0, or names the first check that fails and exits 1.
"""

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile


def fields(entry):
    out = []
    while entry:
        (n,) = struct.unpack(">I", entry[:4])
        entry = entry[4:]
        if n == 0xFFFFFFFF:
            out.append(None)
            continue
        out.append(entry[:n].decode("utf-8"))
        entry = entry[n:]
    return out


def root_from_inclusion(index, size, leaf, proof):
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def check_signature(note, pubkey):
    name, _, key = pubkey.strip().split("+", 2)
    raw = base64.b64decode(key)
    assert raw[0] == 1, "not an Ed25519 key"
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        parts = line.split(" ")
        if parts[0] == "\u2014" and parts[1] == name:
            sig = base64.b64decode(parts[2])[4:]
            break
    else:
        raise ValueError(f"no signature by {name}")
    with tempfile.TemporaryDirectory() as d:
        der = bytes.fromhex("302a300506032b6570032100") + raw[1:]
        for f, data in (("pub.der", der), ("text", text.encode()), ("sig", sig)):
            with open(os.path.join(d, f), "wb") as out:
                out.write(data)
        ok = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der",
             "-rawin", "-in", "text", "-sigfile", "sig"],
            cwd=d, capture_output=True)
        if ok.returncode != 0:
            raise ValueError("the checkpoint signature does not verify")
    lines = text.split("\n")
    if lines[0] != name:
        raise ValueError("the origin is not the key's name")
    return int(lines[1]), base64.b64decode(lines[2])


def main(path, pubkey):
    f = json.load(open(path))
    for proof in f["entries"]:
        head, _, note = proof.partition("\n\n")
        lines = head.split("\n")
        assert lines[0] == "c2sp.org/tlog-proof@v1"
        entry = base64.b64decode(lines[1][len("extra "):])
        index = int(lines[2][len("index "):])
        hashes = [base64.b64decode(h) for h in lines[3:]]
        size, root = check_signature(note, pubkey)
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        if root_from_inclusion(index, size, leaf, hashes) != root:
            raise ValueError(f"the inclusion proof of index {index} does not lead to the root")
        fs = fields(entry)
        if fs[4] != f["url"] or fs[5] != str(f["version"]):
            raise ValueError("the entry is not of the file's URL and version")
        if hashlib.sha256(f["text"].encode()).hexdigest() != fs[7]:
            raise ValueError("the text does not hash to the entry's content hash")
        if "body_base64" in f and \
                hashlib.sha256(base64.b64decode(f["body_base64"])).hexdigest() != fs[8]:
            raise ValueError("the body does not hash to the entry's body hash")
        print(f"ok: entry {fs[1]} ({fs[3]}) at {fs[6]} is leaf {index} of {size}; "
              f"metadata {fs[9:]}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], sys.argv[2]))
    except (ValueError, AssertionError, IndexError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
