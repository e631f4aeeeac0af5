#!/usr/bin/env python3
"""Interop check: every vector in the interop folder decodes with `tp decode`
to exactly the values in expected.json (message, header and every field),
once expected.json's schema names are spelled as tp decode spells them
(snake_case keys, 64-bit integers as strings: tp_json_names.py, docs/json.md).

usage: check_interop.py TP_BINARY INTEROP_DIR
"""
import hashlib
import json
import os
import subprocess
import sys

from tp_json_names import snake, tp_form

# Keys of a nested "decoded" object that describe the message; the rest of
# the other implementation's object (warnings, ranges) is its own diagnostics.
DECODED_KEYS = ("schema_id", "template_id", "message", "message_header", "fields")


def compare(path, want, got, errors):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            errors.append("%s: expected an object, got %r" % (path, got))
            return
        keys = set(want)
        if path.endswith(".decoded"):
            keys = {k for k in keys if k in DECODED_KEYS}
        else:
            extra = set(got) - set(want)
            if extra:
                errors.append("%s: unexpected keys %s" % (path, sorted(extra)))
        for k in sorted(keys):
            if k not in got:
                errors.append("%s.%s: missing" % (path, k))
            else:
                compare("%s.%s" % (path, k), want[k], got[k], errors)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            errors.append("%s: expected %r, got %r" % (path, want, got))
            return
        for i, (w, g) in enumerate(zip(want, got)):
            compare("%s[%d]" % (path, i), w, g, errors)
    elif type(want) is not type(got) or want != got:
        errors.append("%s: expected %r, got %r" % (path, want, got))


def main():
    tp, folder = sys.argv[1], sys.argv[2]
    try:
        with open(os.path.join(folder, "expected.json"), encoding="utf-8") as f:
            vectors = json.load(f)["vectors"]
        present = {n for n in os.listdir(folder) if n.endswith(".bin")}
    except OSError as e:
        print("FAIL cannot read the interop vectors: %s" % e)
        return 1
    passed = failed = 0
    # A vector without expected values, or values without their file, is a
    # broken set: fail rather than check less than the folder holds.
    listed = {v["file"] for v in vectors}
    for name in sorted(present - listed):
        failed += 1
        print("FAIL %s: not described in expected.json" % name)
    for v in vectors:
        errors = []
        path = os.path.join(folder, v["file"])
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            failed += 1
            print("FAIL %s: %s" % (v["file"], e))
            continue
        if len(data) != v["size"] or hashlib.sha256(data).hexdigest() != v["sha256"]:
            errors.append("file differs from the one expected.json describes")
        args = [tp, "decode"]
        if v["headerless"]:
            args += ["--shm", "superblock" if v["message"] == "ShmRegionSuperblock" else "slot"]
        run = subprocess.run(args + [path], capture_output=True, text=True)
        if run.returncode != 0:
            errors.append("tp decode exited %d: %s" % (run.returncode, run.stderr.strip()))
        else:
            lines = run.stdout.splitlines()
            if len(lines) != 1:
                errors.append("expected one JSON object, got %d lines" % len(lines))
            else:
                got = json.loads(lines[0])
                for key in ("schemaId", "templateId", "message", "headerless", "messageHeader"):
                    compare(snake(key), tp_form(None, v[key]), got.get(snake(key)), errors)
                compare("fields", tp_form(v["message"], v["fields"]), got.get("fields"), errors)
                if got.get("length") != len(data):
                    errors.append("length %r, file has %d bytes" % (got.get("length"), len(data)))
        if errors:
            failed += 1
            print("FAIL %s" % v["file"])
            for e in errors:
                print("     %s" % e)
        else:
            passed += 1
            print("ok   %s" % v["file"])
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
