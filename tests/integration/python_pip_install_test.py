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

SMOKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "tests", "smoke.py")


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
        # -O0 -g0: half the compile time on a busy machine; the optimised build is CMake's
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                            "--no-index", "--disable-pip-version-check", "--target", target, tree],
                           capture_output=True, text=True, env=dict(os.environ, CFLAGS="-O0 -g0"))
        print(r.stdout[-2000:], r.stderr[-4000:])
        if r.returncode != 0:
            print("FAIL pip install exited %d" % r.returncode)
            return 1
        env = dict(os.environ, PYTHONPATH=target)
        r = subprocess.run([sys.executable, SMOKE, os.path.join(target, "tensorpool")], env=env, cwd=work,
                           capture_output=True, text=True)
        print(r.stdout, r.stderr)
        return r.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
