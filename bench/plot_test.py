#!/usr/bin/env python3
"""bench/run --plot DIR --from FILE draws every plot from a results file:
synthetic results of each kind the plots use (quantiles, per-size latency and
bandwidth with their floors, join cost per input count) must give four PNG
files that gnuplot really wrote (PNG signature, a plausible size), and a file
without anything plottable must fail.

usage: plot_test.py SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    root = sys.argv[1]
    if shutil.which("gnuplot") is None:
        print("SKIP: no gnuplot (scripts/deps.sh --plot installs gnuplot-nox)")
        return 77
    rows = []
    for stat, v in (("p50", 70), ("p99", 120), ("p99.9", 1300)):
        rows.append({"name": "ipc_oneway_latency", "unit": "ns", "value": v, "stat": stat, "msg_bytes": 64})
        rows.append({"name": "ipc_sized_floor_half_rtt", "unit": "ns", "value": v / 2, "stat": stat, "msg_bytes": 64})
    for size, t in ((64, 50), (65536, 1000), (1048576, 30000)):
        rows.append({"name": "shm.publish", "unit": "ns", "value": t, "payload_bytes": size, "stat": "median"})
        rows.append({"name": "shm.memcpy_floor", "unit": "ns", "value": t * 0.8, "payload_bytes": size, "stat": "median"})
        rows.append({"name": "shm.read_copy_bandwidth", "unit": "GB/s", "value": size / t, "payload_bytes": size})
        rows.append({"name": "floor.memcpy_bandwidth", "unit": "GB/s", "value": 1.2 * size / t, "bytes": size})
    rows.append({"name": "join.floor.empty_call", "unit": "ns", "value": 1.3})
    for n, t in ((2, 4), (4, 6), (16, 36)):
        rows.append({"name": "join.ready.sequence", "unit": "ns", "value": t, "inputs": n})
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        res = os.path.join(tmp, "results.jsonl")
        with open(res, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rows))
        out = os.path.join(tmp, "plots")
        r = subprocess.run([os.path.join(root, "bench", "run"), "--plot", out, "--from", res],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL bench/run --plot exited %d: %s" % (r.returncode, r.stderr))
            return 1
        for png in ("latency_cdf.png", "size_latency.png", "size_throughput.png", "inputs.png"):
            path = os.path.join(out, png)
            data = open(path, "rb").read() if os.path.exists(path) else b""
            if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 10000:
                print("FAIL %s: not a drawn PNG (%d bytes)" % (png, len(data)))
                fails += 1
            else:
                print("ok   %s (%d bytes)" % (png, len(data)))
        empty = os.path.join(tmp, "empty.jsonl")
        with open(empty, "w") as f:
            f.write(json.dumps({"name": "x", "unit": "frames/s", "value": 1}) + "\n")
        r = subprocess.run([os.path.join(root, "bench", "run"), "--plot", os.path.join(tmp, "p2"), "--from", empty],
                           capture_output=True, text=True)
        if r.returncode == 0:
            print("FAIL nothing to plot, yet exit 0")
            fails += 1
        else:
            print("ok   nothing to plot: exit %d, %s" % (r.returncode, r.stderr.strip()))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
