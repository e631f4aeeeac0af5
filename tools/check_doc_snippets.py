#!/usr/bin/env python3
"""Check that every ```c block of a Markdown file appears verbatim (as a run
of consecutive lines) in one of the C sources of a directory, so the code a
guide shows is code the build compiles.

usage: tools/check_doc_snippets.py DOC.md EXAMPLES_DIR
"""
import os
import re
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    doc, src_dir = sys.argv[1], sys.argv[2]
    sources = {}
    for name in sorted(os.listdir(src_dir)):
        if name.endswith((".c", ".h")):
            with open(os.path.join(src_dir, name), encoding="utf-8") as f:
                sources[name] = f.read()
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"^```c\n(.*?)^```", text, flags=re.S | re.M)
    bad = 0
    for i, block in enumerate(blocks, 1):
        if not any(block in body for body in sources.values()):
            first = block.splitlines()[0] if block.strip() else ""
            print(f"{doc}: C block {i} not found in {src_dir}: {first.strip()}", file=sys.stderr)
            bad += 1
    print(f"{len(blocks)} C blocks, {bad} not found in the examples")
    return 1 if bad or not blocks else 0


if __name__ == "__main__":
    sys.exit(main())
