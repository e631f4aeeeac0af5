#!/usr/bin/env python3
"""A live statistic of a camera stream, read in place (no copy).

Start the demo in one terminal and this in another:

    tp demo --duration 60 --dir /dev/shm/tp-live
    TP_DIR=/dev/shm/tp-live python3 examples/python/camera_stats.py

Each line: the frame's sequence number, its mean and per-channel means
computed with numpy straight on the shared memory, the time the read took,
and the consumer's drop counters. The seqlock check on leaving the `with`
block tells whether the camera overwrote the frame while we read it.
"""
import argparse
import time

import tensorpool as tp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stream", type=int, default=1, help="camera stream id (tp demo: 1 or 2)")
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: run until Ctrl-C)")
    args = ap.parse_args()
    shown = 0
    with tp.Consumer(args.stream) as cam:
        for frame in cam:  # blocks (GIL released) for each frame
            t0 = time.perf_counter()
            try:
                with frame:
                    img = frame.array  # read-only numpy view of the slot
                    mean = float(img.mean())
                    channels = img.reshape(-1, img.shape[-1]).mean(axis=0) if img.ndim == 3 else []
            except tp.FrameOverwritten:
                print("seq %d: overwritten while read (too slow for this ring)" % frame.seq)
                continue
            us = (time.perf_counter() - t0) * 1e6
            k = cam.counters()
            print("seq %6d %s mean %6.2f channels %s  %.0f us  drops gap %d late %d"
                  % (frame.seq, "x".join(map(str, frame.shape)), mean,
                     " ".join("%.1f" % c for c in channels), us, k["drops_gap"], k["drops_late"]), flush=True)
            shown += 1
            if args.frames and shown >= args.frames:
                break


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
