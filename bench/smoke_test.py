#!/usr/bin/env python3
"""Smoke test of the benchmark programs (ctest bench_smoke): each one runs with
small parameters, exits 0 and prints only well-formed results: one JSON object
per line with snake_case keys (docs/json.md), a string name and unit and a
finite value > 0 (no benchmark
measures something that can be zero: a 0 means it did not measure). Times are
not judged here; that is bench/run's job.

It also reads the benchmark sources: a fixed-point format (%.2f, %.0f) prints a
small but real measurement as 0 (a 0.004 ratio read "0.00" once on a busy
machine), so every floating-point number a benchmark prints uses %g with six
significant digits, or an integer format.

usage: smoke_test.py BENCH_DIR
"""
import glob
import json
import math
import os
import re
import subprocess
import sys

# program -> arguments that keep it short
PROGRAMS = {
    "bench_floor": [],
    "bench_frame_rtt": ["--quick"],
    "bench_driver": [],
    "bench_ipc": ["--quick"],
    "bench_join": ["3", "20000"],
    "bench_join_agent": ["1", "500"],
    "bench_shm": ["3"],
    "bench_trace": ["3", "10"],
    "bench_progress": ["1", "3"],
}
# built only with an optional component: checked when present
OPTIONAL = {
    "bench_python": ["--frames", "50"],  # the Python package (python/)
    "bench_bridge": ["--quick"],  # Aeron
    "bench_iceoryx": ["--quick"],  # Debian's iceoryx (scripts/deps.sh --iceoryx)
}


def check(path, args):
    run = subprocess.run([path] + args, capture_output=True, text=True, timeout=300)
    errors = []
    if run.returncode != 0:
        errors.append("exit status %d: %s" % (run.returncode, run.stderr.strip()[-400:]))
    results = 0
    for n, line in enumerate(run.stdout.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError:
            errors.append("line %d is not JSON: %r" % (n, line[:120]))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not isinstance(obj.get("unit"), str):
            errors.append("line %d lacks a string name and unit: %r" % (n, line[:120]))
            continue
        bad_keys = [k for k in obj if not SNAKE.match(k)]
        if bad_keys:  # docs/json.md: one key convention for every tp JSON output
            errors.append("%s: keys not in snake_case: %s" % (obj["name"], bad_keys))
        v = obj.get("value")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            errors.append("%s: value %r is not a finite number > 0" % (obj["name"], v))
        results += 1
    if results == 0:
        errors.append("printed no results")
    return results, errors


SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
FIXED_POINT = re.compile(r"%[-+ #0]*[0-9]*(\.[0-9]+)?[fF]")


def fixed_point_formats(src_dir):
    """(file:line, text) of every printf-style fixed-point conversion in the benchmark sources."""
    found = []
    for path in sorted(glob.glob(os.path.join(src_dir, "*.c")) + glob.glob(os.path.join(src_dir, "*.h"))):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if any(FIXED_POINT.search(lit) for lit in re.findall(r'"(?:[^"\\]|\\.)*"', line)):
                    found.append(("%s:%d" % (os.path.basename(path), n), line.strip()))
    return found


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for where, text in fixed_point_formats(os.path.dirname(os.path.abspath(__file__))):
        print("FAIL %s: fixed-point format can print a real value as 0: %s" % (where, text[:120]))
        failed += 1
    present = {p: a for p, a in OPTIONAL.items() if os.access(os.path.join(sys.argv[1], p), os.X_OK)}
    for prog, args in list(PROGRAMS.items()) + list(present.items()):
        path = os.path.join(sys.argv[1], prog)
        if not os.access(path, os.X_OK):
            print("FAIL %s: not built at %s" % (prog, path))
            failed += 1
            continue
        results, errors = check(path, args)
        print("%s %s: %d results" % ("FAIL" if errors else "ok  ", prog, results))
        for e in errors:
            print("     " + e)
        failed += bool(errors)
    # every bench_*.c/.cmake program is listed above
    built = sorted(p for p in os.listdir(sys.argv[1]) if p.startswith("bench_") and os.access(os.path.join(sys.argv[1], p), os.X_OK)
                   and os.path.isfile(os.path.join(sys.argv[1], p)))
    for p in built:
        if p not in PROGRAMS and p not in OPTIONAL:
            print("FAIL %s: built but not in this smoke test's list" % p)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
