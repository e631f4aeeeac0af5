#!/usr/bin/env bash
# The main job: build tensorpool and run its end-to-end demonstration.
# usage: scripts/demo.sh [SECONDS]        (default 5)
# Step 1: `tp demo` runs an embedded SHM driver, two synthetic cameras (one two
# frames late), a fast IMU, a MergeMap authority, a sequence join with offset
# compensation and a timestamp join with a lateness budget, each role in its
# own process, printing a status line per second and a summary; it exits
# non-zero if any stage (or role process) failed.
# Step 2: decode every message of the interop set (encoded by another
# implementation of the same schemas) with `tp decode` and re-check each
# against its expected values.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target tp >/dev/null

echo "=== tp demo --duration ${1:-5}"
build/apps/tp demo --duration "${1:-5}"

echo
echo "=== interop messages decoded by tp decode"
interop=${TP_INTEROP_DIR:-$(pwd)/tests/interop/vectors}
for f in "$interop"/*.bin; do
  args=()
  case $(basename "$f") in
    shm_superblock.bin) args=(--shm superblock) ;;
    shm_slot_header.bin) args=(--shm slot) ;;
  esac
  build/apps/tp decode "${args[@]}" "$f" >/dev/null
done
python3 tests/interop/check_interop.py build/apps/tp "$interop" | tail -1
