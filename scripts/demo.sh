#!/usr/bin/env bash
# The main job: build tensorpool and run its end-to-end demonstration.
# usage: scripts/demo.sh
# Today this decodes, with the tp tool, every message in the interop set
# (messages encoded by another implementation of the same schemas) and
# re-checks each against its expected values.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target tp >/dev/null
interop=${TP_INTEROP_DIR:-$(pwd)/../shared/interop}
for f in "$interop"/*.bin; do
  args=()
  case $(basename "$f") in
    shm_superblock.bin) args=(--shm superblock) ;;
    shm_slot_header.bin) args=(--shm slot) ;;
  esac
  echo "--- $(basename "$f")"
  build/apps/tp decode "${args[@]}" "$f"
done
python3 tests/interop/check_interop.py build/apps/tp "$interop" | tail -1
