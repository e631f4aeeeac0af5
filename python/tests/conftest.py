"""Fixtures of the tensorpool Python tests (run by ctest: python_*).

Each test gets its own directory under /dev/shm as TP_DIR (removed after)
and, where it needs one, a driver on a thread of the test process. The C
programs the tests start come from the environment ctest sets: TP_PY_PEER
(tests/python/py_peer.c) and TP_TP (the tp command)."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import tensorpool as tp

SMALL = 7       # pattern frames, 16 slots of 4 KiB
SMALL_B = 8
BIG = 9         # 1 MiB frames, 8 slots

DRIVER_TOML = """
[profiles.small]
header_nslots = 16
payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]
[profiles.big]
header_nslots = 8
payload_pools = [ { pool_id = 1, stride_bytes = 1048576 } ]
[streams.a]
stream_id = 7
profile = "small"
[streams.b]
stream_id = 8
profile = "small"
[streams.big]
stream_id = 9
profile = "big"
"""


@pytest.fixture
def tp_dir():
    d = tempfile.mkdtemp(prefix="tp-pytest-", dir="/dev/shm")
    old = os.environ.get("TP_DIR")
    os.environ["TP_DIR"] = d
    try:
        yield d
    finally:
        if old is None:
            del os.environ["TP_DIR"]
        else:
            os.environ["TP_DIR"] = old
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def driver(tp_dir):
    with tp.Driver(DRIVER_TOML) as d:
        yield d


def program(var):
    path = os.environ.get(var)
    assert path and os.access(path, os.X_OK), "%s must name the program (ctest sets it)" % var
    return path


class Procs:
    """Processes a test starts; every one is killed and reaped at the end."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.close()


def pattern(seq, shape=(4, 8)):
    import numpy as np
    n = 1
    for s in shape:
        n *= s
    return (seq * 1000 + np.arange(n, dtype=np.uint32)).reshape(shape)


def wait_for(cond, timeout=20.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


def pytest_runtest_logreport(report):
    """A skipped test is a failed one here: CI counts no skip as a pass."""
    if report.skipped:
        report.outcome = "failed"


def other_thread_progress(wait):
    """Iterations a spinning Python thread makes while wait() runs: about
    zero if wait() held the GIL, many if it released it."""
    import threading
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = counter[0]
        wait()
        return counter[0] - before
    finally:
        stop.set()
        t.join()
