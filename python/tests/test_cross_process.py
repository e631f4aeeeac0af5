"""Python and C in separate processes over one driver (on a thread of the
test process): a Python producer read by the C consumer py_peer, and the C
producer py_peer read by a Python consumer."""
import json
import os
import subprocess
import sys
import time

import numpy as np

import tensorpool as tp
from conftest import SMALL, SMALL_B, pattern, program

HERE = os.path.dirname(os.path.abspath(__file__))


def test_python_producer_c_consumer(driver, procs):
    c = procs.start([program("TP_PY_PEER"), "consume", str(SMALL), "50", "60000"])
    p = tp.Producer(SMALL, name="pytest-producer")
    assert p.wait_active(20)
    try:
        while c.poll() is None:
            a = p.claim((4, 8), np.uint32)  # write straight into the slot
            a[:] = pattern(p.next_seq)
            p.commit()
            time.sleep(0.005)  # ~200 Hz; claim/offer drive the lease
            if p.next_seq > 20000:
                break
        out, err = c.communicate(timeout=60)
    finally:
        p.close()
    assert c.returncode == 0, err
    r = json.loads(out)
    assert r["frames"] >= 50 and r["wrong"] == 0


def test_c_producer_python_consumer(driver, procs):
    p = procs.start([program("TP_PY_PEER"), "produce", str(SMALL_B), "60000", "5"])
    c = tp.Consumer(SMALL_B)
    got = 0
    try:
        while got < 50:
            f = c.poll(30)
            assert f is not None, "no frame from the C producer"
            try:
                with f:  # a slow (loaded) reader may be lapped: then FrameOverwritten, never wrong data
                    np.testing.assert_array_equal(f.array, pattern(f.seq))
            except tp.FrameOverwritten:
                continue
            got += 1
        assert c.counters()["accepted"] >= 50
    finally:
        c.close()
        p.kill()


def test_python_producer_process_python_consumer(driver, procs):
    """Both ends in Python, each in its own process."""
    code = ("import time, numpy as np, tensorpool as tp\n"
            "p = tp.Producer(%d)\n"
            "assert p.wait_active(20)\n"
            "while True:\n"
            "    s = p.next_seq\n"
            "    p.offer((s * 1000 + np.arange(32, dtype=np.uint32)).reshape(4, 8))\n"
            "    time.sleep(0.005)\n") % SMALL
    procs.start([sys.executable, "-c", code], env=dict(os.environ))
    c = tp.Consumer(SMALL)
    try:
        got = 0
        while got < 30:
            f = c.poll(30)
            assert f is not None
            try:
                with f:
                    np.testing.assert_array_equal(f.array, pattern(f.seq))
            except tp.FrameOverwritten:
                continue
            got += 1
    finally:
        c.close()
