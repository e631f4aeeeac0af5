#!/usr/bin/env python3
"""The examples leave /dev/shm as they found it (issue 13.8): run in their own
temp directory, it is gone afterwards; run with $TP_DIR pointing at a
directory that already holds someone else's file, that directory holds just
that file again afterwards.

usage: examples_leave_no_files_test.py EXAMPLE_BINARY...
"""
import glob
import os
import subprocess
import sys
import tempfile

FAILED = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILED.append(what)


def entries(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, ds, fs in os.walk(root) for n in ds + fs)


def main():
    for exe in sys.argv[1:]:
        name = os.path.basename(exe)
        env = dict(os.environ)
        env.pop("TP_DIR", None)
        p = subprocess.Popen([exe, "500"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        check(p.wait(timeout=60) == 0, "%s in its own directory exits 0" % name)
        left = glob.glob("/dev/shm/tp-example-%d-*" % p.pid)  # its own directory's name
        check(left == [], "%s removed its own directory: %s" % (name, left))
        with tempfile.TemporaryDirectory(prefix="tp-examples-test-", dir="/dev/shm") as d:
            with open(os.path.join(d, "someone-elses"), "w") as f:
                f.write("x")
            p = subprocess.run([exe, "500"], env=dict(env, TP_DIR=d), capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, "%s under TP_DIR exits 0 (%s)" % (name, p.stderr.strip()[-200:]))
            check(entries(d) == ["someone-elses"], "%s left TP_DIR as it found it: %s" % (name, entries(d)[:6]))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
