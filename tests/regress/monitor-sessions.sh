#!/usr/bin/env bash
# The sessions signal in the daemon: a pty nobody uses lets the box go
# idle; output written to it and input read from it make it active. Runs in
# a private pid namespace with its own /proc, so other terminals of this
# machine do not count. The kernel moves tty times only when they leave
# their 8-second block, so the test sets them into the past (touch) before
# each step instead of waiting.
. "$(dirname "$0")/../lib.sh"
private_pidns "$@"
need_cmd jq
need_cmd python3

mkdir -p "$T/home"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run",
 "idle": {"boot_grace": "0s", "interval": "200ms", "timeout": "3s", "warn_before": "1s",
          "action": "none", "watch_paths": ["$T/home"], "ports": []}}
JSON
status() { "$BIN/agentbox" -c "$T/c.json" status --json 2>/dev/null; }
field() { status | jq -r "$1"; }
state_is() { [ "$(field .state)" = "$1" ]; }
age() { touch -d "@$(($(date +%s) - 100))" "$pty"; }

python3 "$TOP/tests/pty-hold.py" "$T/pty" 60 &
holder=$!
at_exit "kill $holder"
wait_for 5 test -s "$T/pty"
pty=$(cat "$T/pty")
name=${pty#/dev/}
age

"$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/monitor.log" &
mon=$!
at_exit "kill $mon"
check "status.json written" wait_for 5 test -s "$T/run/status.json"
check "sessions signal present, not degraded (no logind here)" \
	[ "$(field .signals.sessions.degraded)" = false ]
check "idle pty: the box goes idle" wait_for 10 state_is idle

(echo "agent output" >"$pty")
check "output: active again" wait_for 5 state_is active
check "output: kept alive by sessions" [ "$(field .kept_alive_by)" = sessions ]
check "output: detail ($(field .signals.sessions.detail))" \
	[ "$(field .signals.sessions.detail)" = "$name (cat) output" ]
check "idle again" wait_for 10 state_is idle

age
kill -USR1 $holder
check "input: active again" wait_for 5 state_is active
check "input: detail ($(field .signals.sessions.detail))" \
	[ "$(field .signals.sessions.detail)" = "$name (cat) input" ]
check "idle again" wait_for 10 state_is idle

age
check "times set back by hand are not activity" sh -c "sleep 1; [ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = idle ]"

# a tmux pane, as in the workspace container: keys sent to it are read by
# the shell in it (input) and echoed (output)
if command -v tmux >/dev/null; then
	tmux -S "$T/tmux.sock" new-session -d -s t -x 80 -y 24 sh
	at_exit "tmux -S $T/tmux.sock kill-server"
	pane=$(tmux -S "$T/tmux.sock" display -p -t t '#{pane_tty}')
	wait_for 10 state_is idle
	touch -d "@$(($(date +%s) - 100))" "$pane"
	sleep 0.5
	tmux -S "$T/tmux.sock" send-keys -t t 'echo typed' Enter
	check "tmux pane: active" wait_for 5 state_is active
	check "tmux pane: detail ($(field .signals.sessions.detail))" \
		sh -c "$BIN/agentbox -c $T/c.json status --json | jq -r .signals.sessions.detail | grep -Eq '^${pane#/dev/} \(sh\) (input|output)\$'"
else
	skip "tmux pane: needs tmux"
fi

kill -TERM $mon
check "stops" wait_for 3 sh -c "! kill -0 $mon 2>/dev/null"
finish
