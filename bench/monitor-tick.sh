#!/usr/bin/env bash
# The whole daemon's cost per idle tick, against the seed's shell check.
#
#   seed    the seed design's shell check (bench/lib-seed.sh) on a tree of
#           100,000 small files 2 h old on a tmpfs (an idle box: find walks
#           it all), SEED_RUNS runs after a warm-up: CPU per run;
#   daemon  agentbox-monitor at idle.interval 100ms watching that tree,
#           idle (timeout 36 s, as in bench/monitor.sh: a discovery every
#           12th tick, as with the defaults 5 s / 30 min), runtime_dir on a
#           tmpfs as /run is, in a private pid namespace (other jobs'
#           processes do not count), twice: in this machine's network
#           namespace (the sockets discovery walks the kernel's TCP table,
#           shared with every job here) and in a private one (as a VM's,
#           with few sockets). For each:
#     cpu     /proc/PID/schedstat over TICK_SECONDS: CPU µs per tick;
#     writes  how often status.json was replaced (its inode changed);
#     strace  `strace -c -f -p PID` for TICK_SECONDS: syscalls per tick.
# AGENTBOX_BUILD=DIR measures another build (e.g. an older commit's).
# Output: bench/out/monitor-tick.txt. Needs root (tmpfs, unshare).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${AGENTBOX_BUILD:-build}
SECS=${TICK_SECONDS:-20}
SEED_RUNS=${SEED_RUNS:-5}
FILES=${FILES:-100000}
[ "$(id -u)" -eq 0 ] || { echo "bench/monitor-tick.sh needs root"; exit 1; }
if [ -z "${AGENTBOX_IN_PIDNS:-}" ]; then
	mkdir -p bench/out
	AGENTBOX_IN_PIDNS=1 exec unshare --pid --fork --kill-child --mount-proc "$0" "$@"
fi
. bench/lib-seed.sh
OUT=bench/out/monitor-tick.txt
W=$(mktemp -d /tmp/agentbox-bench-tick.XXXXXX)
mon=
cleanup() {
	[ -n "$mon" ] && kill "$mon" 2>/dev/null && wait "$mon" 2>/dev/null
	mountpoint -q "$W/run" && umount "$W/run"
	mountpoint -q "$W/tree" && umount "$W/tree"
	rm -rf "$W"
}
trap cleanup EXIT
exec > >(tee "$OUT") 2>&1
mkdir -p "$W/run" "$W/tree"
mount -t tmpfs -o size=16m agentbox-bench-run "$W/run"
mount -t tmpfs -o size=1g,nr_inodes=400000 agentbox-bench-tree "$W/tree"
echo "# bench/monitor-tick.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) build $B ($(git rev-parse --short HEAD) checked out) on $(uname -r), $(nproc) cores"
"$(pwd)/build/tests/helpers/mktree" "$W/tree/t" "$FILES"
s=$(seed "$W/tree/t")
echo "seed check on $FILES files (tmpfs): cpu_ms wall_ms per run: $s"
cat >"$W/c.json" <<JSON
{"workspace": {"home": "$W/tree/t"}, "runtime_dir": "$W/run/agentbox",
 "idle": {"interval": "100ms", "boot_grace": "0s", "timeout": "36s", "warn_before": "1s",
          "action": "none", "wall": false, "watch_paths": ["$W/tree/t"]}}
JSON

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

measure() { # label, command prefix...
	local label=$1 n0 n1 t0 t1 w ticks calls st
	shift
	rm -rf "$W/run/agentbox"
	"$@" "$B/bin/agentbox-monitor" -c "$W/c.json" 2>"$W/daemon.log" &
	mon=$!
	for _ in $(seq 100); do [ -s "$W/run/agentbox/status.json" ] && break; sleep 0.1; done
	sleep 2
	# the daemon itself (unshare execs it: same pid)
	n0=$(cut -d' ' -f1 "/proc/$mon/schedstat") t0=$(date +%s%N)
	w=$(count_writes)
	n1=$(cut -d' ' -f1 "/proc/$mon/schedstat") t1=$(date +%s%N)
	ticks=$(((t1 - t0) / 100000000))
	echo "== daemon, $label"
	awk -v n=$((n1 - n0)) -v t="$ticks" -v w="$w" -v s="${s%% *}" \
		'BEGIN { printf "cpu: %.1f µs per tick over %d ticks (seed / daemon tick: %.0f×); status.json replaced %d times\n", n / 1000 / t, t, s * 1000 / (n / 1000 / t), w }'
	strace -c -f -q -p "$mon" -o "$W/strace.txt" &
	st=$!
	sleep "$SECS"
	kill -INT "$st"
	wait "$st" 2>/dev/null || true
	calls=$(awk '$NF == "total" {print $4}' "$W/strace.txt")
	awk -v c="$calls" -v t=$((SECS * 10)) 'BEGIN { printf "strace: %d syscalls in %d ticks, %.1f per tick\n", c, t, c / t }'
	cat "$W/strace.txt"
	kill "$mon"
	wait "$mon" 2>/dev/null || true
	mon=
}
measure "this machine's network namespace" env
measure "a private network namespace" unshare --net
