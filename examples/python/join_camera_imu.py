#!/usr/bin/env python3
"""A timestamp join of a camera and an IMU in Python.

Each camera frame at time T comes with the IMU samples of [T - 40 ms, T],
once the IMU has published up to T - 5 ms (the lateness budget). The stage
announces its own MergeMap (output stream 60) as the authority, attaches to
both streams through the driver and reads every frame in place.

    tp demo --duration 60 --dir /dev/shm/tp-live
    TP_DIR=/dev/shm/tp-live python3 examples/python/join_camera_imu.py
"""
import argparse

import numpy as np

import tensorpool as tp

CAMERA, IMU = 1, 3


def stamp(frame):
    """tp demo's frames start with (tick, capture_ns) as two uint64."""
    return frame.array.reshape(-1)[:16].view(np.uint64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outputs", type=int, default=0, help="stop after this many outputs (0: until Ctrl-C)")
    ap.add_argument("--window-ms", type=float, default=40.0)
    ap.add_argument("--lateness-ms", type=float, default=5.0)
    args = ap.parse_args()
    rules = [tp.offset_ns(CAMERA, 0), tp.window_ns(IMU, int(args.window_ms * 1e6))]
    done = 0
    with tp.JoinStage("timestamp", rules, out_stream_id=60, lateness_ns=int(args.lateness_ms * 1e6)) as stage:
        while not args.outputs or done < args.outputs:
            out = stage.poll(timeout=5.0)  # GIL released while waiting
            if out is None:
                print("no output for 5 s:", stage.status()["reason"])
                for e in stage.explain():
                    print("   ", e["text"])
                continue
            cam, imu = out
            if not cam.frames or not cam.frames[0].has_view:
                continue  # camera not mapped yet
            try:
                with out:  # every frame re-checked on exit
                    brightness = float(cam.frames[0].array.mean())
                    ages = [(out.out_time - int(stamp(f)[1])) / 1e6 for f in imu.frames if f.has_view]
            except tp.FrameOverwritten as e:
                print("output %d dropped: %s" % (out.out_seq, e))
                continue
            print("camera frame at %d ns: brightness %.1f, %d IMU samples in [T-%g ms, T] (ages %s ms)"
                  % (out.out_time, brightness, len(ages), args.window_ms, " ".join("%.1f" % a for a in ages)),
                  flush=True)
            done += 1
        s = stage.stats()
        print("outputs %d, frames read %d, dropped %d" % (s["outputs"], s["frames_read"], s["frames_dropped"]))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
