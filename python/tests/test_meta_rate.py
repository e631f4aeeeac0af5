"""Stream metadata and rate-limited delivery seen from a Python consumer
(Consumer.meta, Frame.meta_version/meta_current, Consumer.set_max_rate,
rate_stats), with the producer a separate Python process over one driver
(on a thread of the test process). W-10.3.2.a/b: attributes and the version a
frame names; W-10.3.3.a: the meta blob; W-11.b/c: RATE_LIMITED decimation."""
import json
import os
import select
import sys
import time

import pytest

import tensorpool as tp
from conftest import SMALL, SMALL_B

# The producer process: metadata v1 (attributes, then a blob), frames at
# ~100 Hz; once the file named by argv[2] exists, changed attributes (v2).
# It prints the producer's meta_version after each step.
PRODUCER = r"""
import json, os, sys, time, numpy as np, tensorpool as tp
stream, trigger = int(sys.argv[1]), sys.argv[2]
p = tp.Producer(stream, name="imu-left", summary="IMU, left wing")
assert p.wait_active(30)
p.set_meta({"units": "m/s^2", "raw": b"\x00\xff\x10"})
attrs_v = p.meta_version
p.set_meta_blob(7, bytes(range(256)) * 40)
print(json.dumps({"attrs": attrs_v, "blob": p.meta_version}), flush=True)
changed = False
while True:
    p.offer(np.full((4, 8), p.next_seq, dtype=np.uint32))
    if not changed and os.path.exists(trigger):
        p.set_meta({"units": "g", "raw": b"\x00\xff\x10"})
        changed = True
        print(json.dumps({"changed": p.meta_version}), flush=True)
    time.sleep(0.01)
"""


def read_json_line(proc, timeout=60.0):
    """The producer's next stdout line as JSON, waiting at most timeout s."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the producer printed nothing in %.0f s" % timeout
    line = proc.stdout.readline()
    assert line, "the producer exited: " + proc.stderr.read()
    return json.loads(line)


def poll_until(c, cond, timeout=60.0, what="condition"):
    """Poll frames (each handed to cond) until cond(frame) is true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        f = c.poll(1.0)
        if f is not None and cond(f):
            return f
    raise AssertionError("timed out waiting for " + what)


def start_producer(procs, stream, trigger):
    return procs.start([sys.executable, "-c", PRODUCER, str(stream), trigger], env=dict(os.environ))


def test_meta_reaches_python_consumer_and_versions_follow(driver, procs, tp_dir):
    trigger = os.path.join(tp_dir, "change-meta")
    prod = start_producer(procs, SMALL, trigger)
    with tp.Consumer(SMALL) as c:
        v = read_json_line(prod)
        v1 = v["blob"]
        assert v["attrs"] >= 1 and v1 == v["attrs"] + 1  # the blob raised the version once more

        def holds(version):
            m = c.meta()
            return m is not None and m["meta_version"] >= version and m["blob"] is not None

        f = poll_until(c, lambda f: holds(v1) and f.meta_version == v1 and f.meta_current,
                       what="frames under meta_version %d with the metadata held" % v1)
        m = c.meta()
        assert m["meta_version"] == v1 and m["stream_id"] == SMALL
        assert m["name"] == "imu-left" and m["summary"] == "IMU, left wing"
        assert m["producer_id"] > 0 and m["epoch"] > 0
        # the DataSourceAnnounce names the current version from its next 1 Hz repeat on
        poll_until(c, lambda f: c.meta()["announced_meta_version"] == v1, what="an announce of version %d" % v1)
        assert m["attributes"] == {"units": "m/s^2", "raw": b"\x00\xff\x10"}
        assert m["formats"] == {"units": "text", "raw": "bytes"}
        blob = m["blob"]
        assert blob["type"] == 7 and blob["data"] == bytes(range(256)) * 40 and blob["meta_version"] == v["blob"]
        assert isinstance(f.meta_current, bool)

        open(trigger, "w").close()  # the producer changes an attribute: v1 + 1
        v2 = read_json_line(prod)["changed"]
        assert v2 == v1 + 1
        f = poll_until(c, lambda f: f.meta_version == v2 and f.meta_current,
                       what="a frame under meta_version %d with it held" % v2)
        m = c.meta()
        assert m["meta_version"] == v2 and m["attributes"]["units"] == "g"


def test_set_max_rate_decimates_to_about_5_hz(driver, procs, tp_dir):
    prod = start_producer(procs, SMALL_B, os.path.join(tp_dir, "never"))
    read_json_line(prod)
    with tp.Consumer(SMALL_B) as c:
        assert c.rate_stats()["max_rate_hz"] == 0
        c.set_max_rate(5)
        assert c.rate_stats()["max_rate_hz"] == 5
        with pytest.raises((OverflowError, ValueError)):  # refused, not wrapped around
            c.set_max_rate(-1)
        poll_until(c, lambda f: True, what="a first rate-limited frame")
        # frames counted over >= 3 s of wall time after the first (the C test's band: 2.5..6 /s)
        before = c.rate_stats()
        start = time.monotonic()
        frames = 0
        while time.monotonic() - start < 3.0:
            if c.poll(0.05) is not None:
                frames += 1
        elapsed = time.monotonic() - start
        after = c.rate_stats()
        rate = frames / elapsed
        skipped = (after["skipped_local"] + after["skipped_producer"]) - (before["skipped_local"] + before["skipped_producer"])
        print("rate-limited: %d frames in %.2f s = %.2f/s, skipped %d" % (frames, elapsed, rate, skipped))
        assert 2.5 <= rate <= 6.0, rate
        assert after["delivered"] - before["delivered"] == frames
        assert skipped >= 3 * frames  # ~100 Hz at 5 Hz: ~19 passed over per frame delivered
        c.set_max_rate(0)  # back to every frame
        assert c.rate_stats()["max_rate_hz"] == 0
        poll_until(c, lambda f: True, what="a frame after leaving RATE_LIMITED")
        n, start = 0, time.monotonic()
        while n < 30 and time.monotonic() - start < 60:
            if c.poll(1.0) is not None:
                n += 1
        # 30 frames at 5 Hz would take 6 s; the ~100 Hz stream gives them in well under that
        assert n == 30 and time.monotonic() - start < 5.0, (n, time.monotonic() - start)


def test_meta_and_rate_on_closed_consumer_raise(driver):
    c = tp.Consumer(SMALL)
    assert c.meta() is None  # nothing arrived yet
    c.close()
    for call in (c.meta, c.rate_stats, lambda: c.set_max_rate(5)):
        try:
            call()
        except tp.Error as e:
            assert "closed" in e.message
        else:
            raise AssertionError("a closed consumer answered")
