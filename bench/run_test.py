#!/usr/bin/env python3
"""Test of bench/run's pairing of tensorpool rows with the iceoryx anchor's
(ctest bench_run_pairing): vs_iceoryx only against a row of the same frame
size, statistic and placement regime, throughput only against iceoryx's
discard_oldest rate (the same no-back-pressure contract), and nothing where
no such row exists.

usage: run_test.py
"""
import importlib.machinery
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load_run():
    loader = importlib.machinery.SourceFileLoader("bench_run", os.path.join(HERE, "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main():
    run = load_run()
    rows = [
        {"name": "frame_rtt", "value": 800, "stat": "p50", "frame_bytes": 64, "regime": "mid"},
        {"name": "frame_rtt", "value": 500, "stat": "p50", "frame_bytes": 64, "regime": "near"},
        {"name": "frame_rtt", "value": 900, "stat": "p99", "frame_bytes": 64, "regime": "mid"},
        {"name": "frame_rtt", "value": 700, "stat": "p50", "frame_bytes": 64, "regime": "mid",
         "publish_timestamp": "off"},
        {"name": "frame_rtt", "value": 810, "stat": "p50", "frame_bytes": 4096, "regime": "mid"},
        {"name": "iceoryx_frame_rtt", "value": 2400, "stat": "p50", "frame_bytes": 64, "regime": "mid"},
        {"name": "iceoryx_frame_rtt", "value": 3600, "stat": "p99", "frame_bytes": 64, "regime": "mid"},
        {"name": "iceoryx_frame_rtt", "value": 1600, "stat": "p50", "frame_bytes": 64, "regime": "far"},
        {"name": "e2e_throughput", "value": 12e6, "regime": "mid"},
        {"name": "e2e_throughput", "value": 10e6, "regime": "far"},
        {"name": "iceoryx_throughput", "value": 0.6e6, "policy": "lossless", "regime": "mid"},
        {"name": "iceoryx_throughput", "value": 0.8e6, "policy": "discard_oldest", "regime": "mid"},
    ]
    run.compare_with_iceoryx(rows)
    got = [r.get("vs_iceoryx") for r in rows]
    want = [3.0, None, 4.0, None, None, None, None, None, 15.0, None, None, None]
    if got != want:
        print("vs_iceoryx: got %s, want %s" % (got, want))
        return 1
    print("bench/run pairs rows with the iceoryx anchor by size, statistic and regime")
    return 0


if __name__ == "__main__":
    sys.exit(main())
