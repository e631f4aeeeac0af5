#!/usr/bin/env bash
# Build the libFuzzer targets with ASan+UBSan and run each for a while.
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
# Corpora are seeded from ../shared/interop (or $TP_INTEROP_DIR) and from the
# spec's worked encodings; crashes are written to build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
interop=${TP_INTEROP_DIR:-$(pwd)/../shared/interop}
command -v clang >/dev/null || { echo "fuzz.sh: clang is required (apt-get install clang)" >&2; exit 1; }
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTP_FUZZ=ON -DTP_SANITIZE=ON -DBUILD_TESTING=OFF -DTP_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_decode_control fuzz_decode_driver fuzz_decode_merge fuzz_decode_shm >/dev/null
mkdir -p build-fuzz/crashes
for t in control driver merge shm; do
  corpus=build-fuzz/corpus-$t
  mkdir -p "$corpus"
  case $t in
    shm) cp "$interop"/shm_*.bin "$corpus"/ ;;
    merge) cp "$interop"/merge_*.bin "$corpus"/ ;;
    *) cp "$interop"/control_*.bin "$interop"/shm_tensor_header.bin "$corpus"/ ;;
  esac
  echo "fuzz_decode_$t: ${secs}s"
  ./build-fuzz/fuzz/fuzz_decode_$t -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix=build-fuzz/crashes/$t- "$corpus" 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || true
  if ls build-fuzz/crashes/$t-* >/dev/null 2>&1; then
    echo "fuzz.sh: fuzz_decode_$t found a failing input: $(ls build-fuzz/crashes/$t-*)" >&2
    exit 1
  fi
done
echo "fuzz: 4 passed, 0 failed"
