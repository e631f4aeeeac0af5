#!/usr/bin/env bash
# tensorpool on an external Aeron media driver, seen by Aeron's own tools:
# aeronmd (the C media driver) runs alone, `tp demo` (driver and roles) joins
# it over aeron:ipc, AeronStat (Aeron's C sample, unmodified) lists
# tensorpool's publications and subscriptions on the control stream 1000,
# and a plain Aeron subscriber receives the control messages, which
# `tp decode` decodes: the driver's ShmPoolAnnounce of camera stream 1.
# D-4.5.a: the driver's control messages (attach requests and responses,
# announces) travel on the control-plane Aeron stream, aeron:ipc 1000.
# usage: aeron_tools_test.sh TP AERONMD AERONSTAT PLAIN_SUBSCRIBER
set -euo pipefail
tp=$1 aeronmd=$2 aeronstat=$3 plain=$4
dir=$(mktemp -d /dev/shm/tp-aeron-tools-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
export TP_DIR=$dir AERON_DIR=$dir/aeronmd DRIVER_CONTROL_CHANNEL=aeron:ipc POLICIES_ANNOUNCE_PERIOD_MS=100
export AERON_TERM_BUFFER_SPARSE_FILE=true AERON_IPC_TERM_BUFFER_LENGTH=1048576
"$aeronmd" >"$dir/aeronmd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$AERON_DIR/cnc.dat" ] && break; sleep 0.1; done
[ -f "$AERON_DIR/cnc.dat" ] || { echo "FAIL: aeronmd did not start"; cat "$dir/aeronmd.log"; exit 1; }
# The demo's driver, cameras, IMU, authority and joins, all on aeron:ipc
# through the external media driver (no --transport: that would embed one).
"$tp" demo --duration 10 --dir "$dir" >"$dir/demo.log" 2>&1 &
pids+=($!)
"$plain" aeron:ipc 1000 100 "$dir/msgs.bin" || { echo "FAIL: plain subscriber"; cat "$dir/demo.log"; exit 1; }
trap 'echo "FAIL: line $LINENO"' ERR
"$aeronstat" -d "$AERON_DIR" -w false >"$dir/stat.txt" 2>&1 || true
grep -E 'pub-pos.* 1000 aeron:ipc' "$dir/stat.txt" >/dev/null || { echo "FAIL: AeronStat shows no publication on stream 1000"; cat "$dir/stat.txt"; exit 1; }
grep -E 'sub-pos.* 1000 aeron:ipc' "$dir/stat.txt" >/dev/null || { echo "FAIL: AeronStat shows no subscription on stream 1000"; cat "$dir/stat.txt"; exit 1; }
echo "ok: AeronStat lists tensorpool's publication and subscription on stream 1000:"
grep -m4 -E '(pub|sub)-pos.* 1000 aeron:ipc' "$dir/stat.txt"
"$tp" decode "$dir/msgs.bin" >"$dir/decoded.jsonl" 2>"$dir/decode.err" \
  || { echo "FAIL: tp decode refused what the plain subscriber received:"; cat "$dir/decode.err"; exit 1; }
grep -c . "$dir/decoded.jsonl" | grep -qx 100 || { echo "FAIL: tp decode did not decode 100 messages"; cat "$dir/decoded.jsonl"; exit 1; }
# the demo's streams are 1, 2 and 3: its driver announces those and no other
announces=$(grep '"message":"ShmPoolAnnounce"' "$dir/decoded.jsonl" || true)
[ -n "$announces" ] || { echo "FAIL: no ShmPoolAnnounce among the received messages"; cat "$dir/decoded.jsonl"; exit 1; }
if echo "$announces" | grep -v -E '"stream_id":[123],' >/dev/null; then
  echo "FAIL: a ShmPoolAnnounce of a stream the demo does not have"; echo "$announces"; exit 1
fi
echo "ok: a plain Aeron subscriber received 100 messages; tp decode: $(cut -d, -f1-4 "$dir/decoded.jsonl" | sort | uniq -c)"
