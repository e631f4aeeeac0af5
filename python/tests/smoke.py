#!/usr/bin/env python3
"""An installed tensorpool package imports from where it should and moves a
frame (a driver thread, a producer and a consumer in this process). Used by
the install check (tests/install/check_install.sh) and python_pip_install.

usage: smoke.py PACKAGE_DIR   (with PYTHONPATH set to PACKAGE_DIR's parent)
"""
import os
import shutil
import sys
import tempfile

import numpy as np

import tensorpool as tp

assert os.path.dirname(os.path.abspath(tp.__file__)) == os.path.abspath(sys.argv[1]), tp.__file__
os.environ["TP_DIR"] = tempfile.mkdtemp(prefix="tp-pytest-smoke-", dir="/dev/shm")
try:
    with tp.Driver("[profiles.p]\nheader_nslots = 8\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
                   "[streams.s]\nstream_id = 5\nprofile = \"p\"\n"):
        with tp.Producer(5) as p, tp.Consumer(5) as c:
            assert p.wait_active(20) and c.wait_mapped(20)
            p.offer(np.arange(6, dtype=np.float64))
            with c.poll(10) as f:
                assert f.array.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    print("ok: tensorpool %s from %s moved a frame" % (tp.__version__, sys.argv[1]))
finally:
    shutil.rmtree(os.environ["TP_DIR"], ignore_errors=True)
