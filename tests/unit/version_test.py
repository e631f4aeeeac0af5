#!/usr/bin/env python3
"""One version everywhere: the project version CMake was given is what the
generated header, tp_version() of the shared library, `tp --version`, the
shared library's file name and SONAME, tensorpool.pc, the CMake package
version file and the manual pages say.

usage: version_test.py PROJECT_VERSION PROBE TP LIBTENSORPOOL_SO VERSION_H PC_FILE CONFIG_VERSION_CMAKE MAN_PAGE READELF
"""
import os
import re
import subprocess
import sys

problems = []


def check(what, got, want):
    if got != want:
        problems.append("%s: %r, expected %r" % (what, got, want))
    else:
        print("ok   %-34s %s" % (what, got))


def run(args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        problems.append("%s exited %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def main(argv):
    if len(argv) != 10:
        print(__doc__, file=sys.stderr)
        return 2
    version, probe, tp, lib, header, pc, config_version, man, readelf = argv[1:]
    major, minor, patch = (int(x) for x in version.split("."))
    soversion = "0.%d" % minor if major == 0 else str(major)

    with open(header, encoding="utf-8") as f:
        text = f.read()
    macros = dict(re.findall(r"#define TENSORPOOL_VERSION_(MAJOR|MINOR|PATCH) (\d+)", text))
    check("version.h MAJOR.MINOR.PATCH", "%s.%s.%s" % (macros.get("MAJOR"), macros.get("MINOR"),
                                                      macros.get("PATCH")), version)
    m = re.search(r'#define TENSORPOOL_VERSION_STRING "([^"]*)"', text)
    check("version.h TENSORPOOL_VERSION_STRING", m and m.group(1), version)

    out = dict(line.split(" ", 1) for line in run([probe]).splitlines() if " " in line)
    check("compiled macro string", out.get("macro_string"), version)
    check("compiled macro parts", out.get("macro_parts"), version)
    check("compiled TENSORPOOL_VERSION_NUMBER", out.get("macro_number"), str(major * 10000 + minor * 100 + patch))
    check("tp_version() of the .so", out.get("library_string"), version)
    check("tp_version_number() of the .so", out.get("library_number"), str(major * 10000 + minor * 100 + patch))

    check("tp --version", run([tp, "--version"]).strip(), "tp (tensorpool) %s" % version)
    check("tp version", run([tp, "version"]).strip(), "tp (tensorpool) %s" % version)
    check("tp -V", run([tp, "-V"]).strip(), "tp (tensorpool) %s" % version)

    real = os.path.realpath(lib)
    check("shared library real name", os.path.basename(real), "libtensorpool.so.%s" % version)
    dyn = run([readelf, "-d", real])
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", dyn)
    check("SONAME", m and m.group(1), "libtensorpool.so.%s" % soversion)
    link = os.path.join(os.path.dirname(real), "libtensorpool.so.%s" % soversion)
    check("SONAME link points at the real name", os.path.realpath(link) if os.path.islink(link) else None, real)

    with open(pc, encoding="utf-8") as f:
        m = re.search(r"^Version:\s*(\S+)\s*$", f.read(), re.M)
    check("tensorpool.pc Version", m and m.group(1), version)
    with open(config_version, encoding="utf-8") as f:
        m = re.search(r'^set\(PACKAGE_VERSION "([^"]*)"\)', f.read(), re.M)
    check("tensorpoolConfigVersion.cmake", m and m.group(1), version)
    with open(man, encoding="utf-8") as f:
        m = re.search(r'^\.TH "[^"]*" "\d" "[^"]*" "tensorpool ([^"]*)"', f.read(), re.M)
    check("manual page footer", m and m.group(1), version)

    for p in problems:
        print("FAIL " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
