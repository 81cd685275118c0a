#!/usr/bin/env bash
# The processes signal in the daemon: a sleeping agent lets the box go
# idle, a busy one (or a node script naming one) keeps it active, a busy
# process with another name does not. Runs in a private pid namespace with
# its own /proc, so other agents on this machine do not count.
. "$(dirname "$0")/../lib.sh"
private_pidns "$@"
need_cmd jq

mkdir -p "$T/home" "$T/bin"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run",
 "idle": {"boot_grace": "0s", "interval": "200ms", "timeout": "3s", "warn_before": "1s",
          "action": "none", "watch_paths": ["$T/home"], "ports": []}}
JSON
for name in claude make node; do ln -s "$BUILD/tests/helpers/spin" "$T/bin/$name"; done
status() { "$BIN/agentbox" -c "$T/c.json" status --json 2>/dev/null; }
field() { status | jq -r "$1"; }
state_is() { [ "$(field .state)" = "$1" ]; }

# an agent at its prompt, there before the monitor (and done starting:
# the helper writes to fd 3 once it sleeps)
"$T/bin/claude" --sleep 3>"$T/ready" &
sleeper=$!
at_exit "kill -9 $sleeper"
wait_for 10 test -s "$T/ready"

"$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/monitor.log" &
mon=$!
at_exit "kill $mon"
check "status.json written" wait_for 5 test -s "$T/run/status.json"
check "processes signal present, not degraded" [ "$(field .signals.processes.degraded)" = false ]
check "sleeping agent: the box goes idle" wait_for 10 state_is idle
check "sleeping agent: no processes activity" [ "$(field .signals.processes.last_active)" = null ]

"$T/bin/claude" --busy &
busy=$!
at_exit "kill -9 $busy"
check "busy agent: active again" wait_for 5 state_is active
check "busy agent: kept alive by processes" [ "$(field .kept_alive_by)" = processes ]
detail=$(field .signals.processes.detail)
check "busy agent: detail names it ($detail)" \
	sh -c "echo '$detail' | grep -Eq '^claude \\(pid $busy\\) [0-9]+% cpu$'"
kill -9 $busy
wait $busy 2>/dev/null
check "busy agent stopped: idle again" wait_for 10 state_is idle

(exec -a node "$T/bin/node" /usr/lib/node_modules/@anthropic-ai/claude-code/cli.js --busy) &
node=$!
at_exit "kill -9 $node"
check "node running claude-code: active" wait_for 5 state_is active
check "node running claude-code: named claude" \
	sh -c "$BIN/agentbox -c $T/c.json status --json | jq -r .signals.processes.detail | grep -q '^claude (pid $node)'"
kill -9 $node
wait $node 2>/dev/null
wait_for 10 state_is idle

# an agent in a container: a pid namespace of its own, seen from ours
unshare --pid --fork --kill-child --mount-proc "$T/bin/claude" --busy &
container=$!
at_exit "kill -9 $container"
check "busy agent in a container: active" wait_for 5 state_is active
inner=$(pgrep -P "$container" -x claude)
check "busy agent in a container: named with its pid here ($inner)" \
	sh -c "$BIN/agentbox -c $T/c.json status --json | jq -r .signals.processes.detail | grep -q '^claude (pid $inner)'"
kill -9 $container
wait $container 2>/dev/null
wait_for 10 state_is idle

"$T/bin/make" --busy &
make=$!
at_exit "kill -9 $make"
sleep 1.5
check "busy non-agent: stays idle" state_is idle
kill -9 $make
wait $make 2>/dev/null

kill -TERM $mon
check "stops" wait_for 3 sh -c "! kill -0 $mon 2>/dev/null"
finish
