#!/usr/bin/env bash
# Build tensorpool with warnings as errors and run every test (ctest).
# usage: scripts/test.sh [--sanitize]
#   --sanitize   build in build-asan/ with AddressSanitizer + UBSan instead
# Installs missing build tools first (scripts/deps.sh). The interop vectors are
# read from tests/interop/vectors unless TP_INTEROP_DIR names another folder.
# With AERON_ROOT set to an Aeron source tree (or an installed Aeron), Aeron is
# built too and the tests also run over aeron:ipc (the *_aeron tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium (the tp view test loads the page in it), gnuplot (bench_plot),
# iceoryx (bench_smoke runs the iceoryx anchor benchmark)
scripts/deps.sh --browser --plot --iceoryx
dir=build
opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  opts=(-DCMAKE_BUILD_TYPE=Debug -DTP_WERROR=ON -DTP_SANITIZE=ON -DTP_BUILD_BENCH=OFF)
fi
[ -n "${TP_INTEROP_DIR:-}" ] && opts+=(-DTP_INTEROP_DIR="$TP_INTEROP_DIR")
[ -n "${AERON_ROOT:-}" ] && opts+=(-DAERON_ROOT="$AERON_ROOT")
cmake -S . -B "$dir" "${opts[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$dir"
rc=0
ctest --output-on-failure -j2 --timeout 600 || rc=$?
# A long log gets cut in the middle when it is shown: repeat the end of each
# failed test's output last, where it survives.
if [ "$rc" -ne 0 ] && [ -f Testing/Temporary/LastTestsFailed.log ]; then
  while IFS=: read -r _ name; do
    echo "=== failed: $name (last 60 lines of its output)"
    awk -v t="$name" '$0 ~ "^[0-9]+/[0-9]+ Test: " t "$" {on = 1} on && /^<end of output>/ {on = 0} on' \
      Testing/Temporary/LastTest.log | tail -60
  done < Testing/Temporary/LastTestsFailed.log
fi
exit "$rc"
