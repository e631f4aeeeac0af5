"""Build of the tensorpool Python package for `pip install .` (Debian's
setuptools and numpy; no other dependency). The extension carries the C
library inside it, compiled from src/ (without the optional Aeron backend),
so it needs nothing installed beyond Python, numpy and a C compiler. CMake
builds and installs the same package from the same sources (python/)."""
import glob
import os
import re

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(tensorpool VERSION (\d+)\.(\d+)\.(\d+)", f.read()).groups()


class BuildExt(build_ext):
    """Writes tensorpool/version.h (CMake's configure_file) before compiling."""

    def run(self):
        major, minor, patch = project_version()
        gen = os.path.join(self.build_temp, "generated")
        os.makedirs(os.path.join(gen, "tensorpool"), exist_ok=True)
        with open(os.path.join(ROOT, "cmake", "version.h.in")) as f:
            text = f.read()
        for k, v in (("MAJOR", major), ("MINOR", minor), ("PATCH", patch)):
            text = text.replace("@PROJECT_VERSION_%s@" % k, v)
        with open(os.path.join(gen, "tensorpool", "version.h"), "w") as f:
            f.write(text)
        for ext in self.extensions:
            ext.include_dirs.insert(0, gen)
        super().run()


lib_sources = sorted(s for s in glob.glob(os.path.join("src", "*", "*.c"))
                     if not os.path.basename(s).startswith("ipc_aeron"))
ext = Extension(
    "tensorpool._tensorpool",
    sources=sorted(glob.glob(os.path.join("python", "src", "*.c"))) + lib_sources,
    include_dirs=["include", "src", numpy.get_include()],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-fvisibility=hidden"],
    libraries=["pthread"],
)

setup(
    name="tensorpool",
    version=".".join(project_version()),
    packages=["tensorpool"],
    package_dir={"tensorpool": "python/tensorpool"},
    package_data={"tensorpool": ["__init__.pyi", "py.typed"]},
    ext_modules=[ext],
    cmdclass={"build_ext": BuildExt},
    # not build/: that is where the README puts the CMake build
    options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}},
)
