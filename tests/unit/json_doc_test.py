#!/usr/bin/env python3
"""docs/json.md documents every JSON key the tp commands print (issue 13.7):
each key written by tp_json_key(..., "key") in tp stat, tp view, tp inspect, tp clean
and the tp decode envelope appears in docs/json.md as `key`, and every key is
snake_case. (The fields of decoded messages are the schema's names in
snake_case; tests/interop checks those against the schemas.)

usage: json_doc_test.py SOURCE_DIR
"""
import os
import re
import sys

SOURCES = ["apps/tp/stat.c", "apps/tp/stat_meta.c", "apps/tp/view/view_model.c", "apps/tp/inspect.c", "apps/tp/clean.c", "apps/tp/trace.c", "apps/tp/discovery.c", "src/codec/registry.c"]
KEY = re.compile(r'tp_json_key\([^,]+,\s*"([^"]*)"\)')
# keys chosen at run time: tp_json_key(j, cond ? "a" : "b")
CHOICE = re.compile(r'tp_json_key\([^,]+,[^;]*\?\s*"([^"]*)"\s*:\s*"([^"]*)"\)')
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def main():
    root = sys.argv[1]
    with open(os.path.join(root, "docs", "json.md"), encoding="utf-8") as f:
        doc = f.read()
    documented = set(re.findall(r"`([a-z][a-z0-9_]*)`", doc))
    failed = 0
    for src in SOURCES:
        with open(os.path.join(root, src), encoding="utf-8") as f:
            text = f.read()
        keys = set(KEY.findall(text))
        for a, b in CHOICE.findall(text):
            keys.update((a, b))
        if not keys:
            print("FAIL %s: no tp_json_key call found (did the writer change?)" % src)
            failed += 1
        for k in sorted(keys):
            if not SNAKE.match(k):
                print("FAIL %s: key %r is not snake_case" % (src, k))
                failed += 1
            elif k not in documented:
                print("FAIL %s: key %r is not in docs/json.md" % (src, k))
                failed += 1
        print("ok   %s: %d keys" % (src, len(keys)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
