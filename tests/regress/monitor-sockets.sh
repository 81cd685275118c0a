#!/usr/bin/env bash
# The sockets signal through the daemon (agentbox status --json), on
# loopback: an open but silent connection on a watched port never moves
# signals.sockets.last_active; bytes over it do. Two daemons watch the same
# connection, one with sock_diag and one with the /proc fallback; a third
# whose backends both fail is degraded (and so counts as active).
. "$(dirname "$0")/../lib.sh"
need_cmd python3
need_cmd jq

# A listener on a free loopback port that accepts and never reads: the
# bytes the client sends stay in its receive queue, which the /proc
# fallback can see too. Bounded: gone after 120 s.
python3 - "$T/port" <<'PY' &
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(0.5)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
end = time.time() + 120
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
PY
listener=$!
at_exit "kill $listener"
wait_for 5 test -s "$T/port" || { fail "listener did not start"; finish; }
PORT=$(cat "$T/port")

cfg() { # name, extra idle members
	mkdir -p "$T/$1/home"
	cat >"$T/$1.json" <<JSON
{"workspace": {"home": "$T/$1/home"}, "runtime_dir": "$T/$1/run",
 "idle": {"boot_grace": "0s", "interval": "200ms", "timeout": "1h", "warn_before": "1m",
          "watch_paths": ["$T/$1/home"], "ports": [$PORT]$2}}
JSON
}
field() { "$BIN/agentbox" -c "$T/$1.json" status --json 2>/dev/null | jq -r "$2"; }
start() { # name, env...
	local name=$1
	shift
	cfg "$name" ""
	env "$@" "$BIN/agentbox-monitor" -c "$T/$name.json" 2>"$T/$name.log" &
	at_exit "kill $!"
	wait_for 5 test -s "$T/$name/run/status.json"
}

# --- open before the daemons start: their first tick discovers it (with
# timeout 1h a later connection would be found only at the next discovery,
# 60 s on; the unit tests cover that) ---
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
at_exit "exec 3>&-"

start nl AGENTBOX_SOCKETS_BACKEND=netlink
start proc AGENTBOX_SOCKETS_BACKEND=proc
start broken AGENTBOX_SOCKETS_BACKEND=proc AGENTBOX_SOCKETS_PROC_NET=$T/nonexistent
for d in nl proc broken; do
	check "$d: daemon up" test -s "$T/$d/run/status.json"
done

# --- open, then silent for well over the settle time (6 ticks: 1.2 s) ---
sleep 3
for d in nl proc; do
	check "$d: not degraded" [ "$(field $d .signals.sockets.degraded)" = false ]
	check "$d: open but silent connection is not activity" \
		[ "$(field $d .signals.sockets.last_active)" = null ]
done
sleep 2
for d in nl proc; do
	check "$d: still silent, still nothing" [ "$(field $d .signals.sockets.last_active)" = null ]
done

# --- bytes move: activity, naming the port and the peer ---
echo "typing" >&3
for d in nl proc; do
	check "$d: bytes over the connection are activity" \
		wait_for 5 sh -c "[ \"\$($BIN/agentbox -c $T/$d.json status --json | jq -r .signals.sockets.last_active)\" != null ]"
	check "$d: detail names port and peer" \
		sh -c "$BIN/agentbox -c $T/$d.json status --json | jq -r .signals.sockets.detail | grep -q '^port $PORT from 127.0.0.1:[0-9]*\$'"
done
first_nl=$(field nl .signals.sockets.last_active)
first_proc=$(field proc .signals.sockets.last_active)

# --- silent again: last_active stays where it was ---
sleep 3
check "nl: silent again, last_active stays" [ "$(field nl .signals.sockets.last_active)" = "$first_nl" ]
check "proc: silent again (queue non-zero but constant), last_active stays" \
	[ "$(field proc .signals.sockets.last_active)" = "$first_proc" ]

# --- bytes again: it moves ---
echo "more typing" >&3
check "nl: new bytes move last_active" \
	wait_for 5 sh -c "[ \"\$($BIN/agentbox -c $T/nl.json status --json | jq -r .signals.sockets.last_active)\" -gt $first_nl ]"
check "proc: new bytes move last_active" \
	wait_for 5 sh -c "[ \"\$($BIN/agentbox -c $T/proc.json status --json | jq -r .signals.sockets.last_active)\" -gt $first_proc ]"

# --- both backends failing: degraded, logged, counted as active ---
check "broken: degraded" [ "$(field broken .signals.sockets.degraded)" = true ]
check "broken: reason names the file" \
	sh -c "$BIN/agentbox -c $T/broken.json status --json | jq -r .signals.sockets.reason | grep -q nonexistent/tcp"
check "broken: degraded journaled" grep -q 'Signal sockets degraded' "$T/broken.log"
check "broken: kept alive by it" [ "$(field broken .kept_alive_by)" = sockets ]
check "proc: fallback said so" grep -q 'only queue changes count' "$T/proc.log"
finish
