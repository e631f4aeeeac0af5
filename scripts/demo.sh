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

# Build quietly but visibly: one progress line (redrawn on a terminal, every
# 10% otherwise); the full compiler output only if the build fails. The same
# configuration as scripts/test.sh, so the two share one build/.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "=== building tp in build/ (the first build takes about 20 s on 2 cores; later ones only rebuild what changed)"
if ! cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_WERROR=ON >"$log" 2>&1; then
  cat "$log" >&2; echo "demo.sh: cmake configuration failed" >&2; exit 1
fi
progress() { # reads cmake --build output: "[ 42%] ..." (make) or "[12/80] ..." (ninja)
  local last=-1 pct
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$log"
    if [[ $line =~ ^\[\ *([0-9]+)%\] ]]; then pct=${BASH_REMATCH[1]}
    elif [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then pct=$(( BASH_REMATCH[1] * 100 / BASH_REMATCH[2] ))
    else continue; fi
    if [ -t 1 ]; then printf '\r  building: %3d%%' "$pct"
    elif [ $(( pct / 10 )) -gt $(( last / 10 )) ] || [ "$last" -lt 0 ]; then printf '  building: %3d%%\n' "$pct"; fi
    last=$pct
  done
  [ -t 1 ] && [ "$last" -ge 0 ] && printf '\n'
  return 0
}
start=$SECONDS
if ! cmake --build build -j"$(nproc)" --target tp 2>&1 | progress; then
  cat "$log" >&2; echo "demo.sh: the build failed (compiler output above)" >&2; exit 1
fi
echo "  built build/apps/tp in $(( SECONDS - start )) s"
echo

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
