#!/usr/bin/env bash
# agentbox-monitor as systemd runs it: config errors, sd_notify (READY,
# STATUS, WATCHDOG, STOPPING), the state machine active -> warning -> idle,
# keepalives, and a clean stop within 2 s.
. "$(dirname "$0")/../lib.sh"
# Alone in a pid namespace: a busy agent or a used terminal elsewhere on
# this machine must not keep the box active.
private_pidns "$@"

cfg() { # writes $T/c.json with the idle section given
	cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run",
 "idle": {"boot_grace": "0s", "interval": "200ms", "watch_paths": ["$T/home"], "ports": [], $1}}
JSON
}
status() { "$BIN/agentbox" -c "$T/c.json" status --json 2>/dev/null; }
field() { status | jq -r "$1"; }
mkdir -p "$T/home"

# --- config errors: one line naming the key, exit 2 ---
bad_config() { # json, expected message
	echo "$1" >"$T/bad.json"
	out=$("$BIN/agentbox-monitor" -c "$T/bad.json" --check-config 2>&1)
	rc=$?
	[ "$rc" -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -qF "$2"
}
check "bad key refused" bad_config '{"idle": {"timout": "30m"}}' "idle.timout: unknown key"
check "bad duration refused" bad_config '{"idle": {"timeout": "30 minutes"}}' 'idle.timeout: expected a duration such as "90s", "30m" or "2h", got "30 minutes"'
check "bad type refused" bad_config '{"idle": {"ports": "22"}}' "idle.ports: expected a list of port numbers"
check "bad action refused" bad_config '{"idle": {"action": "explode"}}' 'idle.action: expected one of "none", "poweroff", "delete"'
check "bad json refused" bad_config '{"idle": ' "not valid JSON"
check "warn_before >= timeout refused" bad_config '{"workspace": {"home": "/tmp"}, "idle": {"timeout": "5m", "warn_before": "10m"}}' "idle.warn_before: must be shorter than idle.timeout"
"$BIN/agentbox-monitor" -c "$T/nope.json" --check-config >/dev/null 2>"$T/err"
check "missing explicit config: exit 2" [ $? -eq 2 ]
check "missing explicit config: says so" grep -q "nope.json: cannot read" "$T/err"
"$BIN/agentbox-monitor" --bogus >/dev/null 2>&1
check "unknown option: exit 2" [ $? -eq 2 ]
check "--help" "$BIN/agentbox-monitor" --help
# (action delete itself is tested in provider.sh, inside a network
# namespace: it asks the metadata service at 169.254.169.254)
cfg '"action": "delete", "timeout": "3s", "warn_before": "1s"'
check "action delete accepted by --check-config" "$BIN/agentbox-monitor" -c "$T/c.json" --check-config

# --- sd_notify and the state machine ---
cfg '"action": "none", "timeout": "3s", "warn_before": "1500ms"'
python3 "$TOP/tests/notify-listen.py" "$T/notify.sock" "$T/notify.log" 60 &
listener=$!
at_exit "kill $listener"
wait_for 5 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 AGENTBOX_LOG_FIELDS=1 \
	"$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/monitor.log" &
mon=$!
at_exit "kill $mon"
check "READY=1 sent" wait_for 5 grep -q '^READY=1' "$T/notify.log"
check "status.json written" wait_for 5 test -s "$T/run/status.json"
check "starts active" [ "$(field .state)" = active ]
check "STATUS= tells the state" grep -q '^STATUS=active: ' "$T/notify.log"
check "WATCHDOG=1 at half the interval" wait_for 3 grep -q '^WATCHDOG=1' "$T/notify.log"
check "goes to warning" wait_for 5 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = warning ]"
check "warning journaled with its MESSAGE_ID" grep -q 'MESSAGE_ID=f8581b0691c74d929090d04b920e3474' "$T/monitor.log"
check "goes to idle" wait_for 5 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = idle ]"
check "idle journaled with its MESSAGE_ID" grep -q 'MESSAGE_ID=4ec1b1bd19a14d40a471443587b15bfd.*AGENTBOX_IDLE_SECONDS=' "$T/monitor.log"
check "action none says nothing was done" grep -q 'idle.action is none: nothing done' "$T/monitor.log"
check "STATUS= says idle" grep -q '^STATUS=idle: ' "$T/notify.log"
check "idle_seconds >= timeout" [ "$(field .idle_seconds)" -ge 3 ]
check "timeout_seconds" [ "$(field .timeout_seconds)" -eq 3 ]
# An idle tick changes nothing published: status.json is not replaced (its
# inode stays) over 10 ticks, STATUS= is not sent again, and the ages that
# agentbox status shows still move (computed by the client).
ino0=$(stat -c %i "$T/run/status.json") idle0=$(field .idle_seconds) n0=$(grep -c '^STATUS=' "$T/notify.log")
sleep 2.2
check "idle ticks: status.json not rewritten" [ "$(stat -c %i "$T/run/status.json")" = "$ino0" ]
check "idle ticks: no STATUS= resent" [ "$(grep -c '^STATUS=' "$T/notify.log")" -eq "$n0" ]
check "idle ticks: idle_seconds still counts" [ "$(field .idle_seconds)" -ge $((idle0 + 2)) ]
check "idle ticks: updated is fresh" [ $(($(date +%s) - $(field .updated))) -le 12 ]
# while nothing changes, the mtime (agentbox status's "updated") is
# refreshed every 10 s, the file not rewritten
m0=$(stat -c %Y "$T/run/status.json")
check "idle ticks: mtime refreshed within 11 s" wait_for 11 sh -c "[ \$(stat -c %Y '$T/run/status.json') -gt $m0 ]"
check "idle ticks: still the same file" [ "$(stat -c %i "$T/run/status.json")" = "$ino0" ]

# --- keepalive holds; its end restarts the idle clock ---
"$BIN/agentbox" -c "$T/c.json" keepalive 2s --reason "test hold" >/dev/null
check "keepalive holds" wait_for 3 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = held ]"
check "kept_alive_by keepalive" [ "$(field .kept_alive_by)" = keepalive ]
check "keepalive reason shown" sh -c "$BIN/agentbox -c $T/c.json status | grep -q 'test hold'"
check "after the hold: active, not idle at once" wait_for 4 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = active ]"
check "then idle again" wait_for 6 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = idle ]"
"$BIN/agentbox" -c "$T/c.json" keepalive 1h >/dev/null
wait_for 3 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = held ]"
"$BIN/agentbox" -c "$T/c.json" keepalive --clear >/dev/null
check "keepalive --clear releases" wait_for 3 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .state)\" = active ]"
"$BIN/agentbox" -c "$T/c.json" keepalive soon >/dev/null 2>&1
check "bad keepalive duration: exit 2" [ $? -eq 2 ]

# --- a broken signal never makes the box look idle ---
# /proc hidden under a tmpfs: processes and sessions cannot look, are
# degraded, and keep the box active past its timeout.
cat >"$T/deg.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run2",
 "idle": {"boot_grace": "0s", "interval": "200ms", "watch_paths": ["$T/home"], "ports": [],
          "action": "none", "timeout": "2s", "warn_before": "1s"}}
JSON
unshare -m sh -c "mount -t tmpfs none /proc && exec '$BIN/agentbox-monitor' -c '$T/deg.json'" 2>"$T/deg.log" &
deg=$!
at_exit "kill $deg"
wait_for 5 test -s "$T/run2/status.json"
sleep 3
dstatus() { "$BIN/agentbox" -c "$T/deg.json" status --json 2>/dev/null; }
check "degraded signal: still active past the timeout" [ "$(dstatus | jq -r .state)" = active ]
check "degraded signal: shown as degraded" [ "$(dstatus | jq -r .signals.processes.degraded)" = true ]
check "degraded signal: names what keeps the box alive" sh -c "$BIN/agentbox -c $T/deg.json status --json | jq -r .kept_alive_detail | grep -q '^degraded: '"
check "degraded signal: logged once" [ "$(grep -c 'Signal processes degraded' "$T/deg.log")" -eq 1 ]
check "degraded signal: status table says DEGRADED" sh -c "$BIN/agentbox -c $T/deg.json status | grep -q 'DEGRADED'"
kill $deg

# --- SIGTERM: stops within 2 s, says STOPPING=1, removes status.json ---
start=$(date +%s%N)
kill -TERM $mon
wait_for 2 sh -c "! kill -0 $mon"
check "stops within 2 s" sh -c "! kill -0 $mon 2>/dev/null"
wait $mon
check "exit status 0 after SIGTERM" [ $? -eq 0 ]
check "STOPPING=1 sent" wait_for 2 grep -q '^STOPPING=1' "$T/notify.log"
check "status.json removed" [ ! -e "$T/run/status.json" ]
"$BIN/agentbox" -c "$T/c.json" status >/dev/null 2>&1
check "agentbox status: exit 3 when not running" [ $? -eq 3 ]
finish
