#!/bin/sh
# Build the tests with ThreadSanitizer in a separate build tree and run the
# ones that cross threads (label "tsan": ipc publishers/subscribers on
# threads, an agent runner) plus the agent tests.
# Usage: scripts/tsan.sh [build-dir]   (default: build-tsan; needs clang or gcc with libtsan)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$src/build-tsan"}
cc=${CC:-clang}
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DTP_WERROR=ON -DTP_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$build" -j2 --target test_ipc_threads test_agent test_ipc test_ipc_conductor
cd "$build"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
  ctest --output-on-failure -R '^(test_ipc_threads|test_agent|test_ipc|test_ipc_conductor_churn)$'
