#!/usr/bin/env bash
# Monitor: the cost of one idle check, side by side in one run.
#
#   seed   the seed design's shell check, run SEED_RUNS times (after one
#          warm-up run) on the same tree: CPU (user+sys of the whole pipeline,
#          getrusage of the children) and wall time per run;
#   check  one round of sample() over every registered signal source, as the
#          daemon does it each tick (bench/monitor-check.c, CHECKS rounds
#          100 ms apart): thread CPU time and wall time per check, amortized
#          over discovery ticks and the ticks between, and each kind alone;
#   daemon agentbox-monitor itself at idle.interval 100ms: its CPU time
#          (/proc/PID/schedstat, ns) over DAEMON_SECONDS, divided by the ticks
#          (elapsed / interval); this includes the core's work (status.json
#          is written only when its content changes, see bench/monitor-tick.sh)
#          (runtime_dir on a tmpfs, as /run is).
#
# idle.timeout is 36s with idle.interval 100ms: a discovery (monitor-discovery.h)
# every 1.2 s, every 12th tick, as with the defaults (5 s, 30 min: every 60 s).
#
# Trees of small files with mtimes 2 h old (an idle box: the seed's find
# finds nothing and walks it all), made by tests/helpers/mktree under /tmp:
# 10k and 100k files on the root filesystem (ext4), then 100k and 1M on a
# tmpfs mounted under /tmp (this machine's ext4 creates files at 0.1-0.9 ms
# each, too slow for 1M). Then the daemon's memory: VmRSS/VmHWM after 600
# and 3600 ticks at idle.interval 20ms. Everything is deleted at the end.
# Raw output: bench/out/monitor.txt; the table: bench/out/monitor.md.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${AGENTBOX_BUILD:-build}
SEED_RUNS=${SEED_RUNS:-5}
CHECKS=${CHECKS:-200}
DAEMON_SECONDS=${DAEMON_SECONDS:-20}
MEM_TICKS_EARLY=600
MEM_TICKS=3600
# QUICK=1: a smoke run (trees and runs 100x smaller); its figures mean nothing
SCALE=1
if [ -n "${QUICK:-}" ]; then
	SCALE=100 SEED_RUNS=2 CHECKS=20 DAEMON_SECONDS=2 MEM_TICKS_EARLY=60 MEM_TICKS=120
fi
[ "$(id -u)" -eq 0 ] || { echo "bench/monitor.sh needs root (fanotify, tmpfs)"; exit 1; }
mkdir -p bench/out
OUT=bench/out/monitor.txt
MD=bench/out/monitor.md
W=$(mktemp -d /tmp/agentbox-bench-monitor.XXXXXX)
mon=
cleanup() {
	[ -n "$mon" ] && kill "$mon" 2>/dev/null && wait "$mon" 2>/dev/null
	mountpoint -q "$W/tmpfs" && umount "$W/tmpfs"
	mountpoint -q "$W/run" && umount "$W/run"
	rm -rf "$W"
}
trap cleanup EXIT
# runtime_dir on a tmpfs, as /run is on a real box (here /run is the root fs)
mkdir -p "$W/run"
mount -t tmpfs -o size=16m agentbox-bench-run "$W/run"
exec > >(tee "$OUT") 2>&1

PKGS="libcurl libcjson libsystemd libarchive libcrypto xcb xcb-shm xcb-damage xcb-xtest xcb-xfixes libvncserver"
# shellcheck disable=SC2046,SC2086
cc -O2 -std=gnu11 -D_GNU_SOURCE -Ilib -Imonitor $(pkg-config --cflags $PKGS 2>/dev/null) \
	-o "$W/monitor-check" bench/monitor-check.c "$B"/monitor/monitor-*.o "$B/libagentbox.a" \
	$(pkg-config --libs $PKGS 2>/dev/null) -lpthread -lm

cfg() { # watch_path interval timeout -> $W/c.json
	cat >"$W/c.json" <<JSON
{"workspace": {"home": "$1"}, "runtime_dir": "$W/run/agentbox",
 "idle": {"interval": "$2", "boot_grace": "0s", "timeout": "$3", "warn_before": "1s",
          "action": "none", "wall": false, "watch_paths": ["$1"]}}
JSON
}

# seed TREE -> "cpu_ms wall_ms" per run (bench/lib-seed.sh)
. bench/lib-seed.sh

# check TREE -> "cpu_us wall_us max_wall_us sources per_source_cpu_us
#   discovery_ticks discovery_cpu_us between_cpu_us between_per_source_cpu_us"
check() {
	cfg "$1" 100ms 36000ms
	"$W/monitor-check" "$W/c.json" "$CHECKS" 2>/dev/null |
		awk '{print $4, $6, $8, $10, $12, $14, $16, $18, $20}'
}

sched_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

start_daemon() { # watch_path interval
	cfg "$1" "$2" "$(awk -v i="$2" 'BEGIN { sub("ms", "", i); printf "%dms", i * 360 }')"
	rm -rf "$W/run/agentbox"
	"$B/bin/agentbox-monitor" -c "$W/c.json" 2>"$W/daemon.log" &
	mon=$!
	for _ in $(seq 100); do [ -s "$W/run/agentbox/status.json" ] && break; sleep 0.1; done
	[ -s "$W/run/agentbox/status.json" ] || { cat "$W/daemon.log"; exit 1; }
}
stop_daemon() {
	kill "$mon"
	wait "$mon" 2>/dev/null || true
	mon=
}

# daemon TREE -> "cpu_us_per_tick ticks"
daemon() {
	local n0 n1 t0 t1
	start_daemon "$1" 100ms
	sleep 2
	n0=$(sched_ns "$mon") t0=$(date +%s%N)
	sleep "$DAEMON_SECONDS"
	n1=$(sched_ns "$mon") t1=$(date +%s%N)
	stop_daemon
	awk -v n=$((n1 - n0)) -v t=$((t1 - t0)) \
		'BEGIN { ticks = int(t / 100000000); printf "%.2f %d\n", n / 1000 / ticks, ticks }'
}

rows=()
measure() { # label tree nfiles
	local label=$1 tree=$2 n=$3 t0 made s c d
	t0=$(date +%s.%N)
	"$B/tests/helpers/mktree" "$tree" "$n"
	made=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	echo "== $label: $n files made in ${made}s"
	s=$(seed "$tree")
	echo "seed   cpu_ms wall_ms per run: $s"
	c=$(check "$tree")
	echo "check  cpu_us wall_us max_wall_us sources per_source_cpu_us discovery_ticks discovery_cpu_us between_cpu_us between_per_source_cpu_us: $c"
	d=$(daemon "$tree")
	echo "daemon cpu_us_per_tick ticks: $d"
	rows+=("$label|$n|$s|$c|$d")
}

echo "# bench/monitor.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -r), $(nproc) cores"
echo "# SEED_RUNS=$SEED_RUNS CHECKS=$CHECKS DAEMON_SECONDS=$DAEMON_SECONDS"
measure "ext4 /tmp" "$W/t10k" $((10000 / SCALE))
rm -rf "$W/t10k"
measure "ext4 /tmp" "$W/t100k" $((100000 / SCALE))

# memory: 3600 ticks at 20 ms (72 s) on the 100k tree
start_daemon "$W/t100k" 20ms
t_start=$(date +%s%N)
mem_at() { # ticks -> "VmRSS VmHWM" in KiB
	local due=$((t_start + $1 * 20000000)) now
	now=$(date +%s%N)
	[ "$due" -gt "$now" ] && sleep "$(awk -v d=$((due - now)) 'BEGIN { printf "%.3f", d / 1e9 }')"
	awk '/^VmRSS|^VmHWM/ {printf "%s ", $2} END {print ""}' "/proc/$mon/status"
}
m600=$(mem_at $MEM_TICKS_EARLY)
m3600=$(mem_at $MEM_TICKS)
stop_daemon
echo "memory VmHWM VmRSS KiB (kernel order) at tick $MEM_TICKS_EARLY: $m600; at tick $MEM_TICKS: $m3600"
rm -rf "$W/t100k"

mkdir -p "$W/tmpfs"
mount -t tmpfs -o size=4g,nr_inodes=3000000 agentbox-bench "$W/tmpfs"
measure "tmpfs under /tmp" "$W/tmpfs/t100k" $((100000 / SCALE))
rm -rf "$W/tmpfs/t100k"
measure "tmpfs under /tmp" "$W/tmpfs/t1m" $((1000000 / SCALE))
rm -rf "$W/tmpfs/t1m"

{
	echo "| tree | files | seed check CPU | seed wall | monitor check CPU (amortized) | discovery tick | tick between | check wall | of which files signal | daemon CPU per tick | CPU seed / check | CPU seed / files signal | CPU seed / daemon tick |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${rows[@]}"; do
		IFS='|' read -r label n s c d <<<"$r"
		read -r scpu swall <<<"$s"
		read -r ccpu cwall _ _ per _ dcpu_disc bcpu _ <<<"$c"
		read -r dcpu _ <<<"$d"
		fcpu=$(echo "$per" | tr ',' '\n' | awk -F= '$1 == "files" {print $2}')
		awk -v l="$label" -v n="$n" -v sc="$scpu" -v sw="$swall" -v cc="$ccpu" -v cw="$cwall" -v dc="$dcpu" -v fc="$fcpu" \
			-v xd="$dcpu_disc" -v xb="$bcpu" \
			'BEGIN { printf "| %s | %d | %.1f ms | %.1f ms | %.1f µs | %.1f µs | %.1f µs | %.1f µs | %.1f µs | %.1f µs | %.0f× | %.0f× | %.0f× |\n",
				l, n, sc, sw, cc, xd, xb, cw, fc, dc, sc * 1000 / cc, sc * 1000 / fc, sc * 1000 / dc }'
	done
	echo
	echo "| tree | files | CPU per check, by signal, amortized (µs) | on a tick between discoveries (µs) | discovery ticks |"
	echo "|---|---:|---|---|---:|"
	for r in "${rows[@]}"; do
		IFS='|' read -r label n _ c _ <<<"$r"
		read -r _ _ _ _ per nd _ _ bper <<<"$c"
		echo "| $label | $n | ${per//,/, } | ${bper//,/, } | $nd of $CHECKS |"
	done
	read -r hwm1 rss1 <<<"$m600"
	read -r hwm2 rss2 <<<"$m3600"
	echo
	echo "Daemon memory (idle.interval 20ms, 100k-file tree): after $MEM_TICKS_EARLY ticks VmRSS $rss1 KiB, VmHWM $hwm1 KiB; after $MEM_TICKS ticks VmRSS $rss2 KiB, VmHWM $hwm2 KiB."
	echo "Signal sources registered: $(echo "${rows[0]}" | cut -d'|' -f4 | awk '{print $4}')."
} | tee "$MD"
