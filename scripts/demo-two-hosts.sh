#!/usr/bin/env bash
# The two-host pipeline, live: host A runs `tp demo` (driver with Aeron inside,
# two cameras, an IMU, two joins) and a `tp bridge` sending both cameras over
# Aeron UDP; host B runs its own `tp driver` (with Aeron inside) and a
# `tp bridge` rebuilding the cameras as streams 101 and 102. Every 2 s it
# prints host B's `tp stat` (the bridged streams' rates and the BRIDGE table).
#
# At the end host B asks host A's discovery provider over UDP which streams
# host A has (tp discovery list --request-channel/--response-channel).
#
# Hosts are two network namespaces joined by a veth pair when this runs as
# root with ip(8); otherwise two directories talking over 127.0.0.1. It says
# which.
#
# usage: scripts/demo-two-hosts.sh [BUILD_DIR] [SECONDS]   (default build, 20)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
secs=${2:-20}
tp="$(pwd)/$build/apps/tp"
[ -x "$tp" ] || { echo "demo-two-hosts: no $tp (build first, with Aeron)" >&2; exit 2; }
tag=$$
a=/dev/shm/tp-2hosts-a-$tag
b=/dev/shm/tp-2hosts-b-$tag
mkdir -p "$a" "$b"
nsa=tp2hA$tag nsb=tp2hB$tag
net=$(( tag % 250 + 1 ))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${netns:-}" ]; then ip netns del "$nsa" 2>/dev/null || true; ip netns del "$nsb" 2>/dev/null || true; fi
  rm -rf "$a" "$b"
}
trap cleanup EXIT INT TERM
on_a() { exec "$@"; }
on_b() { exec "$@"; }
ip_b=127.0.0.1
ip_a=127.0.0.1
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null &&
   ip netns add "$nsa" 2>/dev/null && ip netns add "$nsb" 2>/dev/null &&
   ip link add "${nsa}v" type veth peer name "${nsb}v" &&
   ip link set "${nsa}v" netns "$nsa" && ip link set "${nsb}v" netns "$nsb" &&
   ip -n "$nsa" addr add "10.232.$net.1/24" dev "${nsa}v" && ip -n "$nsb" addr add "10.232.$net.2/24" dev "${nsb}v" &&
   ip -n "$nsa" link set "${nsa}v" up && ip -n "$nsb" link set "${nsb}v" up &&
   ip -n "$nsa" link set lo up && ip -n "$nsb" link set lo up; then
  netns=1
  ip_b=10.232.$net.2
  ip_a=10.232.$net.1
  on_a() { exec ip netns exec "$nsa" "$@"; }
  on_b() { exec ip netns exec "$nsb" "$@"; }
  echo "two hosts: network namespaces $nsa and $nsb joined by a veth pair ($ip_b is host B)"
else
  ip netns del "$nsa" 2>/dev/null || true; ip netns del "$nsb" 2>/dev/null || true
  echo "two hosts: NO network namespaces (needs root and ip): two directories over 127.0.0.1"
fi
port=$(( 43000 + tag % 20000 ))
channel="aeron:udp?endpoint=$ip_b:$port|mtu=8192"
for side in a b; do
  dir=$a; [ $side = b ] && dir=$b
  {
    printf '[bridge]\ninstance_id = "host-%s"\npayload_channel = "%s"\ncontrol_channel = "%s"\nmtu_bytes = 8192\n' \
      "$side" "$channel" "$channel"
    for s in 1 2; do
      if [ $side = a ]; then printf '[[mappings]]\ndirection = "send"\nsource_stream_id = %d\n' $s
      else printf '[[mappings]]\ndirection = "receive"\nsource_stream_id = %d\ndest_stream_id = %d\n' $s $((100 + s)); fi
    done
  } > "$dir/bridge.toml"
done
cat > "$b/driver.toml" <<EOF
[driver]
embedded_media_driver = true
[profiles.camera]
header_nslots = 64
payload_pools = [ { pool_id = 1, stride_bytes = 1048576 } ]
[streams.cam1]
stream_id = 101
profile = "camera"
[streams.cam2]
stream_id = 102
profile = "camera"
EOF
export AERON_TERM_BUFFER_SPARSE_FILE=true
unset AERON_DIR
on_b env TP_DIR="$b" "$tp" driver -c "$b/driver.toml" -d "$b" > "$b/driver.log" 2>&1 & pids+=($!)
on_a "$tp" demo --transport aeron --dir "$a" --duration "$secs" > "$a/demo.log" 2>&1 & demo=$!; pids+=($demo)
sleep 2
on_b env TP_DIR="$b" "$tp" bridge -c "$b/bridge.toml" -d "$b" 2> "$b/bridge.log" & pids+=($!)
on_a env TP_DIR="$a" DRIVER_CONTROL_CHANNEL=aeron:ipc "$tp" bridge -c "$a/bridge.toml" -d "$a" 2> "$a/bridge.log" & pids+=($!)
# discovery answers host B over UDP (docs/spec/discovery.md DS-D8)
disc_req="aeron:udp?endpoint=$ip_a:$((port + 1))"
disc_resp="aeron:udp?endpoint=$ip_b:$((port + 2))"
on_a env DRIVER_CONTROL_CHANNEL=aeron:ipc "$tp" discovery serve --instance host-a --request-channel "$disc_req" "$a" \
  > "$a/discovery.log" 2>&1 & pids+=($!)
end=$(( $(date +%s) + secs - 3 ))
while [ "$(date +%s)" -lt "$end" ] && kill -0 "$demo" 2>/dev/null; do
  sleep 2
  echo "---- host B: tp stat $b"
  "$tp" stat --once "$b" | grep -v '^$' || true
done
echo "---- host B: tp discovery list (host A's streams, asked over UDP)"
( on_b "$tp" discovery list --timeout 5 --request-channel "$disc_req" --response-channel "$disc_resp" "$b" ) || cat "$a/discovery.log"
echo "---- host A: tp stat $a (bridges)"
"$tp" stat --once "$a" | sed -n '/^BRIDGE/,$p'
echo "---- host A: tp demo summary"
wait "$demo" || true
tail -n 6 "$a/demo.log"
