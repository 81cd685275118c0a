#!/usr/bin/env bash
# Faults in the idle -> final backup -> verify -> delete sequence of
# agentbox-monitor (idle.action "delete", Hetzner), inside a network
# namespace of the test's own: the fake cloud (tests/provider/fake.py) on
# 169.254.169.254 and 127.0.0.1:8080, s3rver behind the fault proxy on
# 127.0.0.1:9000/9001. tests/regress/provider.sh covers metadata that
# times out, is malformed, empty or changes on every read, API errors, a
# failing or damaged final backup, activity and SIGTERM during it; this
# adds:
#   - SIGKILL of the monitor (and of its backup child, as systemd ends
#     the unit's cgroup) at each step: idle, identify, the upload, "latest",
#     the read-back, the DELETE in flight; and of the monitor alone during
#     the upload (the child lives on). Each time a new monitor on the same
#     state_dir and runtime_dir finishes the sequence;
#   - a DELETE that times out, one answered with garbage, an identity that
#     changes between the identify step and the delete, metadata that
#     turns to garbage meanwhile.
# The invariant each time: no DELETE before a final backup was verified
# (logged "Final backup verified" earlier in the same monitor's log), and
# the generation it names restores byte for byte.
# timeout: 900
. "$(dirname "$0")/../lib.sh"
# a pid namespace of its own: terminals and agents elsewhere on this machine
# would count as activity and abort rounds
private_pidns "$@"
need_root
need_cmd ip
need_cmd python3
need_cmd jq
need_cmd unshare
need_cmd setsid
. "$TOP/tests/state/lib-state.sh"
command -v node >/dev/null && [ -x "$STATE_NODE/.bin/s3rver" ] ||
	{ skip "needs node and the npm packages of tests/state (make deps)"; exit 0; }

NS=faults-$RANDOM$$
ip netns add "$NS" || { skip "cannot create a network namespace"; exit 0; }
at_exit "ip netns del $NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 169.254.169.254/32 dev lo

SC=$T/scenario.json CALLS=$T/calls.log
scenario() { echo "$1" >"$SC"; }
scenario '{"metadata": "hetzner", "hetzner_id": "4242"}'
ip netns exec "$NS" python3 "$TOP/tests/provider/fake.py" "$SC" "$CALLS" >"$T/fake.out" 2>&1 &
at_exit "kill $!"
wait_for 10 grep -q ready "$T/fake.out" || { fail "the fake cloud did not start"; finish; }
mkdir -p "$T/s3data"
ip netns exec "$NS" node --openssl-legacy-provider "$STATE_NODE/s3rver/bin/s3rver.js" -d "$T/s3data" \
	-a 127.0.0.1 -p 9000 --silent --allow-mismatched-signatures --configure-bucket bkt >"$T/s3rver.log" 2>&1 &
at_exit "kill $!"
ip netns exec "$NS" node "$TOP/tests/state/sigv4-proxy.js" 9001 9000 S3RVER S3RVER >"$T/proxy.log" 2>&1 &
at_exit "kill $!"
wait_for 20 grep -q ready "$T/proxy.log" && wait_for 20 ip netns exec "$NS" curl -sf -o /dev/null http://127.0.0.1:9000/ ||
	{ fail "s3rver or the proxy did not start"; finish; }
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/s3creds"
chmod 600 "$T/s3creds"
S3N="ip netns exec $NS $HELPERS/s3-tool http://127.0.0.1:9001 us-east-1 bkt $T/s3creds"
fault() { ip netns exec "$NS" curl -sfG --data-urlencode "match=$1" --data "action=$2" \
	--data "count=${3:-1}" http://127.0.0.1:9001/__fault >/dev/null; }
faults_clear() { ip netns exec "$NS" curl -sf -XPOST http://127.0.0.1:9001/__fault/clear >/dev/null; }
injected() { ip netns exec "$NS" curl -sf http://127.0.0.1:9001/__stats | jq -r .injected; }

printf 'test-token\n' >"$T/token"
chmod 600 "$T/token"
# A systemctl that only writes down what it was asked (private mount
# namespace): a poweroff must not power off this machine.
printf '#!/bin/sh\necho "$@" >>%s/systemctl.log\n' "$T" >"$T/systemctl"
chmod 755 "$T/systemctl"
H=$T/home
mkdir -p "$H/proj"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$H/proj/big"
echo "notes" >"$H/notes.txt"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$H"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "100ms", "timeout": "1s", "warn_before": "0s",
          "watch_paths": ["$H"], "ports": [], "action": "delete"},
 "state": {"paths": ["$H"], "storage": {"endpoint": "http://127.0.0.1:9001", "bucket": "bkt",
           "path_style": true, "credentials_file": "$T/s3creds", "prefix": "ws/"}},
 "provider": {"name": "auto", "metadata_timeout": "3s", "metadata_retries": 1, "delete_retries": 1,
              "api_timeout": "2s",
              "hetzner": {"api_url": "http://127.0.0.1:8080/v1", "token_file": "$T/token"}}}
JSON
AB() { ip netns exec "$NS" "$BIN/agentbox" -c "$T/c.json" "$@"; }
deletes() { jq -r 'select(.method == "DELETE") | .path' "$CALLS" 2>/dev/null | grep -c .; }
step() { jq -r .step "$T/state/delete.json" 2>/dev/null; }
listing() { tree_listing "$H"; }

# start_monitor LOG: the monitor in a session of its own (so that its
# process group is what systemd's cgroup would be), in the namespace,
# with the fake systemctl; $mon is its pid.
start_monitor() {
	setsid unshare -m sh -c 'mount --bind "$1" /usr/bin/systemctl && shift && exec "$@"' sh \
		"$T/systemctl" ip netns exec "$NS" env AGENTBOX_LOG_FIELDS=1 \
		"$BIN/agentbox-monitor" -c "$T/c.json" 2>"$1" &
	mon=$!
}
# stop_monitor: SIGTERM, then SIGKILL to its group after 5 s.
stop_monitor() {
	kill "$mon" 2>/dev/null
	wait_for 5 sh -c "! kill -0 $mon" || kill -9 -- "-$mon" 2>/dev/null
	wait "$mon" 2>/dev/null
}
# ended: the sequence ended; LAST_STEP keeps the step as seen then (later
# activity may move a failed sequence back to active)
ended() {
	LAST_STEP=$(step)
	case $LAST_STEP in deleted | failed) return 0 ;; esac
	return 1
}
# verified_first LOG: at least one "Deleting" line, and each one preceded
# by a "Final backup verified" line of its own round (none in between).
verified_first() {
	grep -q 'Deleting hetzner' "$1" &&
		awk '/Final backup verified/ { v = 1 } /Deleting hetzner/ { if (!v) bad = 1; v = 0 }
			END { exit bad }' "$1"
}
# rounds LOG: how many rounds reached the DELETE
rounds() { grep -c 'Deleting hetzner' "$1"; }
# verified_then_deleted NAME LOG: in LOG, a final backup verified before
# the (only) "Deleting" line; its generation restores byte for byte to
# the tree of $T/expect.
verified_then_deleted() {
	local name=$1 log=$2 gen
	check "$name: 'Final backup verified' logged before 'Deleting'" verified_first "$log"
	gen=$(sed -n 's/.*Final backup verified: generation \([^ ]*\) .*/\1/p' "$log" | tail -n 1)
	check "$name: the verified generation reads back" AB restore --generation "$gen" --verify
	rm -rf "$H"
	AB restore --generation "$gen" >"$T/r.out" 2>&1 || cat "$T/r.out"
	listing >"$T/got"
	check "$name: the verified generation $gen restores byte for byte" diff "$T/expect" "$T/got"
}

# kill_at NAME HOW WHEN... : one monitor run, SIGKILLed once WHEN (a
# command) holds; then a new monitor on the same state finishes.
# HOW: group (the monitor and its children, as systemd does) or monitor.
kill_at() {
	local name=$1 how=$2 kids log
	shift 2
	log=$T/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '-')
	: >"$CALLS"
	rm -rf "$T/state" "$T/run" "$T/systemctl.log"
	echo "work before $name" >>"$H/notes.txt"
	head -c 100000 /dev/urandom >>"$H/proj/big"
	listing >"$T/expect"
	start_monitor "$log-1.log"
	if ! wait_for 30 "$@"; then
		fail "$name: the kill point was never reached (step $(step))"
		stop_monitor
		return
	fi
	kids=$(pgrep -P "$mon" | tr '\n' ' ')
	if [ "$how" = group ]; then kill -9 -- "-$mon"; else kill -9 "$mon"; fi
	wait "$mon" 2>/dev/null
	KILLED_AT=$(step)
	DELETES_BEFORE=$(deletes)
	scenario '{"metadata": "hetzner", "hetzner_id": "4242"}'
	faults_clear
	# the orphaned backup child (HOW monitor) goes on while the new
	# monitor starts, as it would under systemd until the unit is stopped
	start_monitor "$log-2.log"
	wait_for 60 ended
	stop_monitor
	for k in $kids; do kill -9 "$k" 2>/dev/null; done
	check "$name: the restarted monitor reports the interrupted sequence or none" \
		reported "$KILLED_AT" "$log-2.log"
	check "$name: the restarted monitor deleted (step $LAST_STEP)" [ "$LAST_STEP" = deleted ]
	verified_then_deleted "$name" "$log-2.log"
	LOG1=$log-1.log
}
reported() { [ -z "$1" ] || [ "$1" = none ] || grep -q "interrupted at step '$1'" "$2"; }
injected_more_than() { [ "$(injected)" -gt "$1" ]; }
has_delete() { [ "$(deletes)" -ge 1 ]; }
at_step() { [ "$(step)" = "$1" ]; }

# --- SIGKILL at each step ---
up_for() { [ -e "$T/run/status.json" ]; }
kill_at "kill while active" group up_for
check "kill while active: no DELETE before the kill" [ "$DELETES_BEFORE" -eq 0 ]
check "kill while active: exactly one DELETE" [ "$(deletes)" -eq 1 ]

scenario '{"metadata": "hetzner", "hetzner_id": "4242", "metadata_delay": 2}'
kill_at "kill at identify" group at_step identify
check "kill at identify: killed at identify" [ "$KILLED_AT" = identify ]
check "kill at identify: no DELETE before the kill" [ "$DELETES_BEFORE" -eq 0 ]
check "kill at identify: exactly one DELETE" [ "$(deletes)" -eq 1 ]

# the v2 final backup's writes in order (packs, index, tree, latest), then
# its read-back (docs/state.md "Order of writes")
for point in "upload|^PUT .*/packs/" "index|^PUT .*/ws/index/" "tree|^PUT .*/ws/generations/.*[.]tree\$" \
	"latest|^PUT .*/ws/latest\$" "read-back|^GET .*/packs/"; do
	what=${point%%|*} re=${point#*|}
	n=$(injected)
	fault "$re" hold 1
	kill_at "kill during the final backup's $what" group injected_more_than "$n"
	check "kill during the final backup's $what: killed at backup" [ "$KILLED_AT" = backup ]
	check "kill during the final backup's $what: no DELETE before the kill" [ "$DELETES_BEFORE" -eq 0 ]
	check "kill during the final backup's $what: exactly one DELETE" [ "$(deletes)" -eq 1 ]
done

n=$(injected)
fault '^PUT .*/packs/' hold 1
kill_at "kill of the monitor alone during the upload" monitor injected_more_than "$n"
check "kill of the monitor alone: no DELETE before the kill" [ "$DELETES_BEFORE" -eq 0 ]
check "kill of the monitor alone: exactly one DELETE" [ "$(deletes)" -eq 1 ]

# The DELETE in flight: the cloud got it, the answer never came. The new
# monitor may send it again, but only after a final backup of its own.
scenario '{"metadata": "hetzner", "hetzner_id": "4242", "delete_delay": 1.5}'
kill_at "kill with the DELETE in flight" group has_delete
check "kill with the DELETE in flight: killed at deleting" [ "$KILLED_AT" = deleting ]
check "kill with the DELETE in flight: one DELETE before the kill" [ "$DELETES_BEFORE" -eq 1 ]
check "kill with the DELETE in flight: it came after a verified backup" verified_first "$LOG1"
check "kill with the DELETE in flight: at most one more, after a new verified backup" [ "$(deletes)" -le 2 ]

# --- the cloud's API and metadata misbehaving (one run each) ---
# run NAME: one monitor run until the sequence ends or 30 s
run() {
	local name=$1
	: >"$CALLS"
	rm -rf "$T/state" "$T/run" "$T/systemctl.log"
	echo "work before $name" >>"$H/notes.txt"
	listing >"$T/expect"
	start_monitor "$T/$name.log"
	wait_for 30 ended
	stop_monitor
}
logged() { grep -q -- "$2" "$T/$1.log"; }

scenario '{"metadata": "hetzner", "hetzner_id": "4242", "delete_delay": 4}'
run api-timeout
check "DELETE timing out: the sequence fails, the box stays up" [ "$LAST_STEP" = failed ]
check "DELETE timing out: sent twice per round (delete_retries 1): $(deletes) in $(rounds "$T/api-timeout.log")" \
	[ "$(deletes)" -eq $((2 * $(rounds "$T/api-timeout.log"))) ]
check "DELETE timing out: the log says it timed out" logged api-timeout 'Delete stopped.*[Tt]imeout\|failed after 2 attempts.*[Tt]ime'
verified_then_deleted "DELETE timing out" "$T/api-timeout.log"

scenario '{"metadata": "hetzner", "hetzner_id": "4242", "api_garbage": true}'
run api-garbage
check "DELETE answered with garbage: not taken as accepted" [ "$LAST_STEP" = failed ]
check "DELETE answered with garbage: says so" logged api-garbage 'Delete stopped\|failed after'
grep -h 'Delete stopped\|failed after' "$T/api-garbage.log" | cut -c1-200

# The identity changes after the identify step (a replaced instance, a
# metadata service answering for another): seen by the delete step's
# second read, nothing deleted.
scenario '{"metadata": "hetzner", "hetzner_id": "4242"}'
n=$(injected)
fault '^PUT .*/packs/' hold 1
: >"$CALLS"
rm -rf "$T/state" "$T/run"
echo "work before id-change" >>"$H/notes.txt"
start_monitor "$T/id-change.log"
wait_for 30 injected_more_than "$n" || fail "id change: the backup never started"
scenario '{"metadata": "hetzner", "hetzner_id": "4343"}'
wait_for 40 ended
stop_monitor
check "identity changed after identify: no DELETE" [ "$(deletes)" -eq 0 ]
check "identity changed after identify: the box stays up (step $LAST_STEP)" [ "$LAST_STEP" = failed ]
grep -h 'Delete stopped\|back to active' "$T/id-change.log" | cut -c1-240

scenario '{"metadata": "hetzner", "hetzner_id": "4242"}'
n=$(injected)
fault '^PUT .*/packs/' hold 1
: >"$CALLS"
rm -rf "$T/state" "$T/run"
echo "work before md-garbage" >>"$H/notes.txt"
start_monitor "$T/md-garbage.log"
wait_for 30 injected_more_than "$n" || fail "metadata garbage: the backup never started"
scenario '{"metadata": "malformed"}'
wait_for 40 ended
stop_monitor
check "metadata garbage after identify: no DELETE" [ "$(deletes)" -eq 0 ]
check "metadata garbage after identify: the box stays up (step $LAST_STEP)" [ "$LAST_STEP" = failed ]
grep -h 'Delete stopped\|back to active' "$T/md-garbage.log" | cut -c1-240
finish
