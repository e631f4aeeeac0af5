#!/usr/bin/env bash
# Build the libFuzzer targets with ASan+UBSan and run each for a while.
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
# Corpora are seeded from tests/interop/vectors (or $TP_INTEROP_DIR) and from
# fuzz/seeds/ (messages the interop set lacks, e.g. a ShmPoolAnnounce);
# crashes are written to build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
interop=${TP_INTEROP_DIR:-$(pwd)/tests/interop/vectors}
command -v clang >/dev/null || { echo "fuzz.sh: clang is required (apt-get install clang)" >&2; exit 1; }
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTP_FUZZ=ON -DTP_SANITIZE=ON -DBUILD_TESTING=OFF -DTP_BUILD_BENCH=OFF >/dev/null
targets=(decode_control decode_driver decode_bridge decode_merge decode_tracelink decode_discovery decode_shm driver_config shm_uri driver_handlers join_handlers join_trace ratelimit_config progress_handler meta supervisor_policy consumer_control)
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
rm -rf build-fuzz/crashes
mkdir -p build-fuzz/crashes
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus-$t
  mkdir -p "$corpus"
  case $t in
    decode_shm) cp "$interop"/shm_*.bin "$corpus"/ ;;
    decode_merge) cp "$interop"/merge_*.bin "$corpus"/ ;;
    decode_tracelink) cp "$interop"/tracelink_*.bin "$corpus"/ ;;
    decode_discovery) cp fuzz/seeds/discovery_*.bin "$corpus"/ ;;
    decode_bridge) cp fuzz/seeds/bridge_*.bin "$corpus"/ ;;
    decode_*) cp "$interop"/control_*.bin "$interop"/shm_tensor_header.bin fuzz/seeds/control_*.bin "$corpus"/ ;;
    driver_config) printf '[driver]\ncontrol_stream_id = 1000\n\n[shm]\nbase_dir = "/dev/shm/x"\n' > "$corpus/seed.toml" ;;
    # attach a producer, a cycle, keepalive and detach it, a clock step, attach a consumer
    driver_handlers) printf '\x00\x01\x01\x00\x00\x01\x00\x00\x00\x07\x01\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x06\xff\x00\x02\x02\x00\x00\x01\x00\x00\x01' > "$corpus/seed" ;;
    shm_uri) printf 'shm:file?path=/dev/shm/tensorpool/a/b|require_hugepages=false' > "$corpus/seed" ;;
    join_handlers) cp fuzz/seeds/join_*.bin "$corpus"/ ;;
    # slot 0 committed for seq 0 (a 64-byte uint8 vector), then a PROGRESS of 32 bytes for it
    progress_handler) printf '\x02\x00\x00\x01\x10\x40\x00\x00\x01\x01\x01\x01\x00\x00\x40\x00\x00\x00\x00\x00\x00\x01\x00\x00\x02\x08\x20\x00\x00\x00\x00\x00\x00\x00' > "$corpus/seed" ;;
    # a 5-byte blob announced, sent in one chunk and completed, then attributes
    meta) printf '\x01\x07\x01\x2a\x05\x00\x00\x00\x00\x02\x08\x01\x00\x00hello\x03\x01\x01\x00' > "$corpus/seed" ;;
    join_trace) head -c 240 /dev/zero > "$corpus/entry"; head -c 688 /dev/zero > "$corpus/status" ;;
    ratelimit_config) printf '[rate_limiter]\ninstance_id = "p"\nmax_rate_hz = 5\n[[mappings]]\nsource_stream_id = 1\ndest_stream_id = 2\n' > "$corpus/seed.toml" ;;
    supervisor_policy) printf '# seed\ndrops stream=10000 max=50 window=5s rate_hz=5\nmax_consumers stream=* count=2\n' > "$corpus/seed" ;;
    consumer_control) cp fuzz/seeds/consumer_control_*.bin "$corpus"/ ;;
  esac
  echo "fuzz_$t: ${secs}s"
  ./build-fuzz/fuzz/fuzz_$t -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix=build-fuzz/crashes/$t- "$corpus" 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || true
  if ls build-fuzz/crashes/$t-* >/dev/null 2>&1; then
    echo "fuzz.sh: fuzz_$t found a failing input: $(ls build-fuzz/crashes/$t-*)" >&2
    exit 1
  fi
done
echo "fuzz: ${#targets[@]} passed, 0 failed"
