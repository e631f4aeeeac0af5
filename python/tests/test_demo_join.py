"""Python join stages and consumers over `tp demo`'s streams: the demo runs
as its own processes (driver, cameras 1 and 2, IMU, its own joins); the
test's stages attach through the demo's driver and announce their own
MergeMaps for their own output streams. Demo frames start with a stamp
(tick, capture_ns as two uint64) and repeat tick & 0xff after it; camera 2
starts two ticks late, so its seq N carries tick N + 2."""
import os
import subprocess
import sys
import tempfile
import shutil
import time

import numpy as np
import pytest

import tensorpool as tp
from conftest import program

CAM1, CAM2, IMU = 1, 2, 3
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "python")


@pytest.fixture
def demo(procs):
    d = tempfile.mkdtemp(prefix="tp-pytest-demo-", dir="/dev/shm")
    old = os.environ.get("TP_DIR")
    os.environ["TP_DIR"] = d
    p = procs.start([program("TP_TP"), "demo", "--duration", "60", "--dir", d])
    try:
        yield d, p
    finally:
        if p.poll() is None:
            p.send_signal(2)  # SIGINT: the demo stops its roles and cleans up
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if old is None:
            del os.environ["TP_DIR"]
        else:
            os.environ["TP_DIR"] = old
        shutil.rmtree(d, ignore_errors=True)


def stamp(frame):
    tick, capture_ns = frame.array.reshape(-1)[:16].view(np.uint64)
    return int(tick), int(capture_ns)


def cam1_pixel(tick, y, x, channel):
    """What tp demo's camera 1 draws at (y, x): row y is its colour ramp
    shifted by y + 4 * tick pixels (apps/tp/demo_pipeline.c, draw_frame)."""
    v = (((y + 4 * tick) % 640 + x) * 255 // 639) % 256
    return (v, v // 2, 255 - v)[channel]


def outputs(stage, n, timeout=60):
    """n outputs whose frames all have views (the first may come before an input is mapped)."""
    got, end = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        out = stage.poll(1.0)
        if out is None:
            continue
        if all(i.frames and all(f.has_view for f in i.frames) for i in out):
            got.append(out)
    assert len(got) == n, "only %d outputs with views; status %s, explain %s, stats %s" % (
        len(got), stage.status(), stage.explain(), stage.stats())
    return got


def test_timestamp_join_of_camera_and_imu(demo):
    window = 40_000_000
    with tp.JoinStage("timestamp", [tp.offset_ns(CAM1, 0), tp.window_ns(IMU, window)], out_stream_id=60,
                      lateness_ns=5_000_000) as stage:
        checked = 0
        for out in outputs(stage, 15):
            try:
                with out:
                    cam, imu = out[0], out[1]
                    assert cam.stream_id == CAM1 and imu.stream_id == IMU
                    (frame,) = cam.frames
                    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
                    tick, capture = stamp(frame)
                    assert capture == out.out_time == frame.timestamp_ns
                    assert frame.array[100, 200, 1] == cam1_pixel(tick, 100, 200, 1)
                    assert len(imu.frames) >= 1
                    for s in imu.frames:
                        _, t = stamp(s)
                        assert out.out_time - window <= t <= out.out_time
                checked += 1
            except tp.FrameOverwritten:
                pass  # a loaded machine may lap the 16-slot camera ring: reported, never torn
        assert checked >= 10
        assert stage.stats()["outputs"] >= 15
        assert stage.status()["state"] in ("flowing", "degraded", "blocked")
        assert len(stage.explain()) == 2


def test_sequence_join_pairs_the_cameras(demo):
    with tp.JoinStage("sequence", [tp.offset(CAM1, 0), tp.offset(CAM2, -2)], out_stream_id=61) as stage:
        checked = 0
        for out in outputs(stage, 15):
            try:
                with out:
                    (a,), (b,) = out[0].frames, out[1].frames
                    assert a.seq == out.out_seq and b.seq == out.out_seq - 2
                    # offset compensation: the same tick from both cameras
                    assert stamp(a)[0] == stamp(b)[0] == a.seq
                    # zero copy into numpy through DLPack as well
                    assert np.shares_memory(np.from_dlpack(b), b.array)
                checked += 1
            except tp.FrameOverwritten:
                pass
        assert checked >= 10


def test_consumer_of_a_camera_and_its_counters(demo):
    with tp.Consumer(CAM1) as c:
        means = []
        while len(means) < 10:
            f = c.poll(30)
            assert f is not None
            try:
                with f:
                    tick, _ = stamp(f)
                    means.append(float(f.array[1:].mean()))
                    assert f.array[479, 639, 2] == cam1_pixel(tick, 479, 639, 2)
            except tp.FrameOverwritten:
                pass
        k = c.counters()
        assert k["accepted"] >= 10 and k["maps"] >= 1


def run_example(name, *args):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + list(args), capture_output=True, text=True,
                       timeout=120, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_examples(demo):
    out = run_example("camera_stats.py", "--frames", "10")
    assert out.count("mean") >= 10
    out = run_example("join_camera_imu.py", "--outputs", "10")
    assert "IMU samples" in out
