#!/usr/bin/env python3
"""The examples leave /dev/shm as they found it (issue 13.8): each makes its
own directory /dev/shm/tp-<example-name>-XXXXXX (the name with '-' for '_')
and removes it, files, logs and all, before it exits, also when it fails.

ctest runs this test and the examples under one RESOURCE_LOCK, so no other
run of the same example can leave or remove such a directory meanwhile.

usage: examples_leave_no_files_test.py EXAMPLE_BINARY...
"""
import glob
import os
import subprocess
import sys

FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILED.append(what)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    for exe in sys.argv[1:]:
        name = os.path.basename(exe)
        stem = name[len("example_"):] if name.startswith("example_") else name
        pattern = "/dev/shm/tp-%s-*" % stem.replace("_", "-")
        before = set(glob.glob(pattern))
        run_ms = os.environ.get("TP_EXAMPLE_RUN_MS", "1000")  # longer in sanitized builds
        p = subprocess.run([exe, run_ms], capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "%s exits 0 (%s)" % (name, (p.stdout + p.stderr).strip()[-300:]))
        made = sorted(set(glob.glob(pattern)) - before)
        check(made == [], "%s removed the directory it made: %s" % (name, made))
    print("examples leave no files: %d failed" % len(FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
