#!/usr/bin/env bash
# The whole daemon's cost per idle tick: agentbox-monitor at idle.interval
# 100ms on a quiet watch path (runtime_dir on a tmpfs, as /run is), idle
# (timeout 36 s, as in bench/monitor.sh: a discovery every 12th tick), in a
# private pid namespace so that other jobs' processes do not count;
#   strace  `strace -c -f -p PID` for TICK_SECONDS: syscalls per tick, by call;
#   cpu     /proc/PID/schedstat over TICK_SECONDS without strace: CPU µs per tick;
#   writes  how often status.json was replaced (its inode changes).
# Output: bench/out/monitor-tick.txt. Needs root (tmpfs, unshare).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${AGENTBOX_BUILD:-build}
SECS=${TICK_SECONDS:-20}
[ "$(id -u)" -eq 0 ] || { echo "bench/monitor-tick.sh needs root"; exit 1; }
if [ -z "${AGENTBOX_IN_PIDNS:-}" ]; then
	mkdir -p bench/out
	AGENTBOX_IN_PIDNS=1 exec unshare --pid --fork --kill-child --mount-proc "$0" "$@"
fi
OUT=bench/out/monitor-tick.txt
W=$(mktemp -d /tmp/agentbox-bench-tick.XXXXXX)
mon=
cleanup() {
	[ -n "$mon" ] && kill "$mon" 2>/dev/null && wait "$mon" 2>/dev/null
	mountpoint -q "$W/run" && umount "$W/run"
	rm -rf "$W"
}
trap cleanup EXIT
exec > >(tee "$OUT") 2>&1
mkdir -p "$W/run" "$W/home"
mount -t tmpfs -o size=16m agentbox-bench-run "$W/run"
cat >"$W/c.json" <<JSON
{"workspace": {"home": "$W/home"}, "runtime_dir": "$W/run/agentbox",
 "idle": {"interval": "100ms", "boot_grace": "0s", "timeout": "36s", "warn_before": "1s",
          "action": "none", "wall": false, "watch_paths": ["$W/home"]}}
JSON
"$B/bin/agentbox-monitor" -c "$W/c.json" 2>"$W/daemon.log" &
mon=$!
for _ in $(seq 100); do [ -s "$W/run/agentbox/status.json" ] && break; sleep 0.1; done
sleep 2
echo "# bench/monitor-tick.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD) on $(uname -r), interval 100ms, ${SECS}s"
ino() { stat -c %i "$W/run/agentbox/status.json"; }
# inode changes counted each 50 ms: a lower bound of the replacements
count_writes() {
	local n=0 last cur end=$(($(date +%s%N) + SECS * 1000000000))
	last=$(ino)
	while [ "$(date +%s%N)" -lt "$end" ]; do
		cur=$(ino 2>/dev/null || echo "$last")
		[ "$cur" != "$last" ] && n=$((n + 1)) last=$cur
		sleep 0.05
	done
	echo "$n"
}
n0=$(cut -d' ' -f1 "/proc/$mon/schedstat") t0=$(date +%s%N)
w=$(count_writes)
n1=$(cut -d' ' -f1 "/proc/$mon/schedstat") t1=$(date +%s%N)
ticks=$(( (t1 - t0) / 100000000 ))
awk -v n=$((n1 - n0)) -v t="$ticks" -v w="$w" \
	'BEGIN { printf "cpu: %.1f µs per tick over %d ticks; status.json replaced %d times\n", n / 1000 / t, t, w }'
strace -c -f -q -p "$mon" -o "$W/strace.txt" &
st=$!
sleep "$SECS"
kill -INT "$st"
wait "$st" 2>/dev/null || true
calls=$(awk '$NF == "total" {print $4}' "$W/strace.txt")
awk -v c="$calls" -v t=$((SECS * 10)) 'BEGIN { printf "strace: %d syscalls in %d ticks, %.1f per tick\n", c, t, c / t }'
cat "$W/strace.txt"
