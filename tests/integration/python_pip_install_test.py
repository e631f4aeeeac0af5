#!/usr/bin/env python3
"""`pip install .` of the repository (pyproject.toml + setup.py, Debian's
setuptools and numpy, no network) gives an importable tensorpool package
that moves a frame: the route for users with their own Python.

The sources are copied to a temporary folder first so the build writes
nothing into the checkout.

usage: python_pip_install_test.py SOURCE_DIR   (run with Debian's python3)
"""
import os
import shutil
import subprocess
import sys
import tempfile

SMOKE = r"""
import os, tempfile, shutil, numpy as np, tensorpool as tp
assert tp.__file__.startswith(os.environ["TARGET"]), tp.__file__
d = tempfile.mkdtemp(prefix="tp-pytest-pip-", dir="/dev/shm")
os.environ["TP_DIR"] = d
try:
    with tp.Driver("[profiles.p]\nheader_nslots = 8\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
                   "[streams.s]\nstream_id = 5\nprofile = \"p\"\n"):
        with tp.Producer(5) as p, tp.Consumer(5) as c:
            assert p.wait_active(20) and c.wait_mapped(20)
            p.offer(np.arange(10, dtype=np.int32))
            f = c.poll(10)
            with f:
                assert f.array.tolist() == list(range(10))
    print("ok: pip-installed tensorpool", tp.__version__, "moved a frame")
finally:
    shutil.rmtree(d, ignore_errors=True)
"""


def main():
    src = sys.argv[1]
    work = tempfile.mkdtemp(prefix="tp-pip-test-")
    try:
        tree = os.path.join(work, "src")
        os.mkdir(tree)
        for f in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "CMakeLists.txt"):
            shutil.copy(os.path.join(src, f), tree)
        for d in ("cmake", "include", "src", "python"):
            shutil.copytree(os.path.join(src, d), os.path.join(tree, d),
                            ignore=shutil.ignore_patterns("__pycache__", "tests"))
        target = os.path.join(work, "site")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                            "--no-index", "--disable-pip-version-check", "--target", target, tree],
                           capture_output=True, text=True)
        print(r.stdout[-2000:], r.stderr[-4000:])
        if r.returncode != 0:
            print("FAIL pip install exited %d" % r.returncode)
            return 1
        env = dict(os.environ, PYTHONPATH=target, TARGET=target)
        r = subprocess.run([sys.executable, "-c", SMOKE], env=env, cwd=work, capture_output=True, text=True)
        print(r.stdout, r.stderr)
        return r.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
