#!/usr/bin/env python3
"""Reading a 1 MiB frame from Python: a numpy view vs a copy, against the C
API reading the same frames, in one run (bench_python; bench/run runs it).

A driver runs on a thread of this process; a Python producer publishes
1 MiB uint8 frames (claim/commit, 16-slot ring); this process's Python
consumer and a C consumer in another process (py_peer bench) read each one.
Per frame, medians over the run, in microseconds:

  python_frame_view    with frame: a = frame.array; a[0]; a[-1]   (view made,
                       first and last byte read, seqlock checked on exit)
  python_frame_dlpack  with frame: numpy.from_dlpack(frame)        (zero copy)
  python_frame_copy    frame.copy()                                (1 MiB copy
                       + seqlock check)
  c_frame_view         C callback: read first and last byte, tp_frame_intact
  c_frame_copy         C callback: memcpy of the payload, tp_frame_intact

usage: python_frame_bench.py --peer PY_PEER [--frames N] [--pythonpath DIR]
Prints JSON lines {name, unit, value, frame_bytes, samples}.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STREAM = 41
FRAME = 1 << 20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--pythonpath", default="")
    args = ap.parse_args()
    if args.pythonpath:
        sys.path.insert(0, args.pythonpath)
    import numpy as np
    import tensorpool as tp

    d = tempfile.mkdtemp(prefix="tp-bench-python-", dir="/dev/shm")
    os.environ["TP_DIR"] = d
    cfg = ("[profiles.mib]\nheader_nslots = 16\npayload_pools = [ { pool_id = 1, stride_bytes = %d } ]\n"
           "[streams.cam]\nstream_id = %d\nprofile = \"mib\"\n" % (FRAME, STREAM))
    peer = None
    try:
        with tp.Driver(cfg):
            p = tp.Producer(STREAM, name="bench")
            c = tp.Consumer(STREAM)
            if not (p.wait_active(30) and c.wait_mapped(30)):
                raise SystemExit("bench_python: producer or consumer did not attach")
            peer = subprocess.Popen([args.peer, "bench", str(STREAM), str(args.frames), "120000"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)  # the C consumer maps before the first frame
            times = {"view": [], "dlpack": [], "copy": []}
            clock = time.perf_counter_ns
            for i in range(args.frames):
                for kind, xs in times.items():
                    a = p.claim((FRAME,), np.uint8)  # the slot itself: mark it, no 1 MiB write
                    a[0] = a[-1] = i & 0xFF
                    p.commit()
                    f = c.poll(10)
                    if f is None:
                        raise SystemExit("bench_python: frame %d not received" % i)
                    try:
                        t0 = clock()
                        if kind == "view":
                            with f:
                                v = f.array
                                v[0], v[-1]
                        elif kind == "dlpack":
                            with f:
                                np.from_dlpack(f)
                        else:
                            f.copy()
                        xs.append(clock() - t0)
                    except tp.FrameOverwritten:
                        pass  # lapped on a loaded machine: not a sample
                if i % 64 == 0:
                    time.sleep(0.001)  # let the C reader keep up on a loaded machine
            out, err = peer.communicate(timeout=180)
            c.close()
            p.close()
    finally:
        if peer is not None and peer.poll() is None:
            peer.kill()
            peer.communicate()
        shutil.rmtree(d, ignore_errors=True)
    for kind, xs in times.items():
        name = "python_frame_" + kind
        print(json.dumps({"name": name, "unit": "us", "value": statistics.median(xs) / 1e3, "frame_bytes": FRAME,
                          "samples": len(xs)}))
    sys.stdout.write(out)
    if peer.returncode != 0:
        print("bench_python: the C reader exited %d: %s" % (peer.returncode, err.strip()[-300:]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
