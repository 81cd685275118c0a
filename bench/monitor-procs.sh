#!/usr/bin/env bash
# Cost per tick of the processes and sessions signals (one shared /proc
# snapshot on discovery ticks, every 12th with the default config; the known
# agents and ttys polled between) with 100 and 1000 processes, one of them
# an agent at its prompt ("claude", tests/helpers/spin --sleep), against the
# seed design's shell check for the same two things (pgrep -f for agents;
# who | wc -l), in a private pid namespace so the process count is what we
# made it.
# Output: bench/out/monitor-procs.txt
set -eu
cd "$(dirname "$0")/.."
BUILD=${AGENTBOX_BUILD:-build}
out=bench/out/monitor-procs.txt
mkdir -p bench/out "$BUILD/bench"
make -s tests BUILD="$BUILD" >/dev/null
# link the driver with the monitor's modules, as the unit tests are
objs=$(ls "$BUILD"/monitor/monitor-*.o)
cc -std=gnu11 -D_GNU_SOURCE -O2 -Ilib -Imonitor -o "$BUILD/bench/monitor-procs" bench/monitor-procs.c \
	$objs "$BUILD/libagentbox.a" $(pkg-config --libs libcurl libcjson libsystemd libarchive libcrypto 2>/dev/null) -lpthread -lm

if [ -z "${AGENTBOX_IN_PIDNS:-}" ]; then
	AGENTBOX_IN_PIDNS=1 exec unshare --pid --kill-child --mount-proc "$0" "$@"
fi

shell_check() { # ticks: the seed's per-tick commands for these two signals
	local i
	for ((i = 0; i < $1; i++)); do
		pgrep -f "claude|codex|aider|opencode|gemini|node" >/dev/null || true
		who | wc -l >/dev/null
	done
}

{
	me=$BASHPID
	echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cpus"
	ln -sf "$PWD/$BUILD/tests/helpers/spin" "$BUILD/bench/claude"
	for nprocs in 100 1000; do
		pids=()
		"$BUILD/bench/claude" --sleep &
		pids+=($!)
		for ((i = 0; i < nprocs - 4; i++)); do sleep 600 & pids+=($!); done
		ticks=2000
		c=$("$BUILD/bench/monitor-procs" $ticks)
		# the shell: CPU of the children over 100 ticks (fork+exec dominates)
		t0=$(awk '{print $16+$17}' /proc/$me/stat)
		s0=$(date +%s%N)
		shell_check 100
		s1=$(date +%s%N)
		t1=$(awk '{print $16+$17}' /proc/$me/stat)
		tck=$(getconf CLK_TCK)
		shell_cpu=$(awk -v a="$t0" -v b="$t1" -v k="$tck" 'BEGIN{printf "%.1f", (b-a)*1e6/k/100}')
		shell_wall=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.1f", (b-a)/1e3/100}')
		ours=$(echo "$c" | sed -E 's/.*cpu_us_per_tick=([0-9.]+).*/\1/')
		ratio=$(awk -v a="$shell_cpu" -v b="$ours" 'BEGIN{printf "%.0f", a/b}')
		echo "procs=$nprocs agentbox: $c"
		echo "procs=$nprocs shell(pgrep -f; who|wc -l): cpu_us_per_tick=$shell_cpu wall_us_per_tick=$shell_wall"
		echo "procs=$nprocs ratio shell/agentbox cpu: ${ratio}x"
		kill "${pids[@]}" 2>/dev/null
		wait 2>/dev/null || true
	done
} | tee "$out"
