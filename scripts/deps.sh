#!/usr/bin/env bash
# Install what tensorpool needs to build and test on Debian 12, if missing:
# a C compiler and make, a C++ compiler (the public headers are checked from
# C++ too), cmake, python3, pkg-config, doxygen (the API reference, target
# docs-api), clang with its sanitizer/libFuzzer
# runtimes, and for the Python package (python/) Debian's python3 headers,
# numpy, pytest and setuptools, and libmicrohttpd (tp view). Uses apt-get as
# root, or sudo.
#   --browser  also Debian's chromium (the tp view browser test; scripts/test.sh)
#   --plot     also gnuplot (bench/run --plot)
#   --iceoryx  also Debian's iceoryx 2.0.3 (RouDi and the C binding): the
#              anchor benchmark bench_iceoryx is built when it is there
# (with either, a font, so the screenshot and the plots have legible text)
set -euo pipefail
need=()
for a in "$@"; do
  case "$a" in
    --browser) command -v chromium >/dev/null || need+=(chromium) ;;
    --plot) command -v gnuplot >/dev/null || need+=(gnuplot-nox) ;;
    --iceoryx) { command -v iox-roudi >/dev/null && dpkg -s libiceoryx-binding-c-dev >/dev/null 2>&1; } ||
               need+=(iceoryx libiceoryx-binding-c-dev) ;;
    *) echo "deps.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
if { [[ " $* " == *" --browser "* ]] || [[ " $* " == *" --plot "* ]]; } && [ ! -d /usr/share/fonts/truetype/dejavu ]; then need+=(fonts-dejavu-core); fi
command -v cc >/dev/null || need+=(build-essential)
command -v make >/dev/null || need+=(make)
command -v c++ >/dev/null || need+=(g++)
command -v cmake >/dev/null || need+=(cmake)
command -v python3 >/dev/null || need+=(python3)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v doxygen >/dev/null || need+=(doxygen)
command -v clang >/dev/null || need+=(clang)
# the Python package is built for and tested with Debian's interpreter
ls /usr/include/python3*/Python.h >/dev/null 2>&1 || need+=(python3-dev)
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
/usr/bin/python3 -c 'import pytest' 2>/dev/null || need+=(python3-pytest)
/usr/bin/python3 -c 'import setuptools' 2>/dev/null || need+=(python3-setuptools)
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
pkg-config --exists libmicrohttpd 2>/dev/null || need+=(libmicrohttpd-dev)
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 &&
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
  need+=(libclang-rt-dev)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${need[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "deps.sh: need root or sudo to install: ${need[*]}" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${need[@]}"
