#!/usr/bin/env python3
"""Validates stet's OpenAPI document with openapi-spec-validator, then calls every path it
lists on a running `stet serve` and checks that each answer is documented: its status among the
operation's responses, its content type the documented one, and a JSON body valid against the
documented schema (openapi-schema-validator, OpenAPI 3.1 dialect).

usage: openapi_check.py BASE_URL WATCH_ID
"""
import json
import sys
import urllib.error
import urllib.request

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

base, watch = sys.argv[1], sys.argv[2]


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


status, ctype, raw = call("GET", "/api/v1/openapi.json")
assert status == 200 and ctype.startswith("application/json"), (status, ctype)
doc = json.loads(raw)
validate(doc)
assert doc["openapi"].startswith("3.1"), doc["openapi"]
print("valid OpenAPI", doc["openapi"])

values = {"id": watch, "seq": "1"}
examples = {"q": "bridge"}
failures = []
checked = 0
for path, item in doc["paths"].items():
    for method, op in item.items():
        if method not in ("get", "post", "delete"):
            continue
        url = path.replace("/api/v1", "/api/v1", 1)
        for name, value in values.items():
            url = url.replace("{" + name + "}", value)
        query = [f"{p['name']}={examples[p['name']]}" for p in op.get("parameters", [])
                 if p["in"] == "query" and p.get("required")]
        if query:
            url += "?" + "&".join(query)
        body, headers = None, {}
        if method == "post":
            body = json.dumps({"url": "http://127.0.0.1:9/openapi-probe"}).encode()
            headers["Content-Type"] = "application/json"
        status, ctype, raw = call(method.upper(), url, body, headers)
        checked += 1
        documented = op["responses"].get(str(status))
        if documented is None:
            failures.append(f"{method.upper()} {url}: status {status} is not documented")
            continue
        content = documented.get("content")
        if not content:
            continue
        media = ctype.split(";")[0].strip()
        if media not in content:
            failures.append(f"{method.upper()} {url}: {media} is not among {list(content)}")
            continue
        schema = content[media].get("schema")
        if schema and "json" in media:
            root = dict(schema)
            root["components"] = doc.get("components", {})
            errors = list(OAS31Validator(root).iter_errors(json.loads(raw)))
            if errors:
                failures.append(f"{method.upper()} {url}: body does not match: {errors[0].message}")
        print(f"{method.upper():6} {url} -> {status} {media}")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"{checked} operations answered as documented")
