#!/usr/bin/env bash
# timeout: 300
# Shutdowns the box did not choose. agentbox-monitor runs inside a network
# namespace whose fake EC2 IMDS (tests/provider/fake.py) posts a spot
# interruption notice (and, in a second run, a rebalance recommendation)
# while the monitor runs: the final backup starts at once, is verified and
# lands in the bucket (Ceph RGW inside the namespace), and the journal and
# status.json say why. Then SIGTERM while systemd says the system is
# stopping (AGENTBOX_SYSTEM_STATE, as no system bus is there to ask) makes
# a final backup before the monitor exits; a plain SIGTERM (a restart) not.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ip
need_cmd python3
need_cmd jq
. "$TOP/tests/state/lib-state.sh"
if ! have_rgw; then
	skip "spot notices: need ceph for the bucket (make deps)"
	finish
fi

NS=clouds-spot-$RANDOM$$
ip netns add "$NS" || { skip "cannot create a network namespace"; exit 0; }
at_exit "ip netns del $NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 169.254.169.254/32 dev lo

SC=$T/scenario.json CALLS=$T/calls.log
echo '{"metadata": "ec2"}' >"$SC"
ip netns exec "$NS" python3 "$TOP/tests/provider/fake.py" "$SC" "$CALLS" >"$T/fake.out" 2>&1 &
at_exit "kill $!"
wait_for 10 grep -q ready "$T/fake.out" || { fail "the fake cloud did not start"; finish; }
start_rgw 127.0.0.1 "$NS"
# the webhook receiver, inside the namespace (loopback there)
HOOKS=$T/hooks.log
ip netns exec "$NS" python3 "$TOP/tests/notify/receiver.py" 23503 "$HOOKS" "$T/nostatus" >"$T/receiver.out" 2>&1 &
at_exit "kill $!"
wait_for 10 grep -q ready "$T/receiver.out"
printf 'http://127.0.0.1:23503/spot-hook\n' >"$T/url"
chmod 600 "$T/url"

mkdir -p "$T/home"
head -c 4M /dev/urandom >"$T/home/work.bin"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "100ms", "timeout": "1h", "warn_before": "0s",
          "watch_paths": ["$T/home"], "ports": [], "action": "none"},
 "state": {"paths": ["$T/home"], "backup_interval": "1h",
           "storage": {"endpoint": "$S3_ENDPOINT", "bucket": "bkt", "path_style": true,
                       "credentials_file": "$CREDS", "prefix": "ws/"}},
 "notify": {"webhook_url_file": "$T/url"},
 "provider": {"name": "auto", "metadata_timeout": "300ms", "metadata_retries": 1}}
JSON

# notice NAME JSON-KEY JSON-VALUE: a monitor run; the fake posts the notice
# after 3 s; waits (at most 60 s) for the final backup's verdict.
notice() {
	local name=$1
	echo '{"metadata": "ec2"}' >"$SC"
	rm -rf "$T/run" "$T/state"
	ip netns exec "$NS" env AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$T/c.json" \
		2>"$T/$name.log" &
	mon=$!
	wait_for 10 grep -q 'Watching ec2.s interruption notices' "$T/$name.log"
	sleep 3
	check "$name: no final backup before the notice" sh -c "! grep -q 'Final backup' $T/$name.log"
	echo "{\"metadata\": \"ec2\", \"$2\": $3}" >"$SC"
	t0=$(date +%s%N)
	wait_for 60 grep -q 'Final backup verified\|Final backup failed' "$T/$name.log"
	t1=$(date +%s%N)
	echo "$name: notice posted to final backup verified: $(( (t1 - t0) / 1000000 )) ms (4 MiB)"
	"$BIN/agentbox" -c "$T/c.json" status --json >"$T/$name.status" 2>/dev/null
	"$BIN/agentbox" -c "$T/c.json" status >"$T/$name.status.txt" 2>/dev/null
	kill $mon
	wait $mon 2>/dev/null
}

notice spot spot_action '{"action": "terminate", "time": "2026-11-30T00:02:00Z"}'
check "spot: the notice journaled (MESSAGE_ID)" grep -q 'Interruption notice from ec2: spot interruption notice: terminate at 2026-11-30T00:02:00Z.*MESSAGE_ID=9406ea5e009a40da9ebd816b559398f0' "$T/spot.log"
check "spot: final backup verified, with the reason" grep -q 'Final backup verified: generation [0-9]\{8\}T[0-9]\{6\}Z-[0-9]* read back as stored, .* after: ec2 spot interruption notice' "$T/spot.log"
gen=$(jq -r .interruption.generation "$T/spot.status")
check "spot: status says verified" [ "$(jq -r .interruption.final_backup "$T/spot.status")" = verified ]
check "spot: agentbox status says it" grep -q '^interruption: *ec2 spot interruption notice: terminate at 2026-11-30T00:02:00Z; final backup verified, generation ' "$T/spot.status.txt"
check "spot: status keeps the reason" sh -c "jq -r .interruption.reason $T/spot.status | grep -q 'spot interruption notice: terminate'"
check "spot: the generation is in the bucket" \
	ip netns exec "$NS" "$HELPERS/s3-tool" "$S3_ENDPOINT" us-east-1 bkt "$CREDS" head "ws/generations/$gen.tree"
check "spot: the webhook got the notice" sh -c "jq -r .body $HOOKS | jq -r 'select(.event == \"interruption\") | .message' | grep -q 'Interruption notice from ec2: spot interruption notice: terminate'"
check "spot: IMDSv2 used for the notice" [ "$(jq -r 'select(.path == "/latest/meta-data/spot/instance-action") | .headers["x-aws-ec2-metadata-token"]' "$CALLS" | sort -u)" = imds-session-token ]

echo "more" >>"$T/home/work.bin"
notice rebalance rebalance '{"noticeTime": "2026-11-30T00:05:00Z"}'
check "rebalance: journaled" grep -q 'Interruption notice from ec2: rebalance recommendation at 2026-11-30T00:05:00Z' "$T/rebalance.log"
check "rebalance: final backup verified" [ "$(jq -r .interruption.final_backup "$T/rebalance.status")" = verified ]

# --- SIGTERM: a final backup only when the system is stopping ---
echo "even more" >>"$T/home/work.bin"
echo '{"metadata": "ec2"}' >"$SC"
# term NAME SYSTEM_STATE: SIGTERM after the monitor is up; waits for its exit
term() {
	rm -rf "$T/run" "$T/state"
	ip netns exec "$NS" env AGENTBOX_LOG_FIELDS=1 AGENTBOX_SYSTEM_STATE="$2" \
		"$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/$1.log" &
	mon=$!
	wait_for 10 grep -q 'Watching ec2.s interruption notices' "$T/$1.log"
	kill -TERM $mon
	wait_for 100 sh -c "! kill -0 $mon 2>/dev/null"
	wait $mon
	TERM_RC=$?
}
term shutdown stopping
check "shutdown: said why (MESSAGE_ID)" grep -q 'The system is shutting down, not by this box.s choice: final backup now (at most [0-9a-z ]*).*MESSAGE_ID=9406ea5e009a40da9ebd816b559398f0' "$T/shutdown.log"
check "shutdown: final backup verified before the exit" grep -q 'Final backup verified: .* after: system shutdown' "$T/shutdown.log"
check "shutdown: exit status 0" [ "$TERM_RC" -eq 0 ]
check "shutdown: the webhook told" sh -c "jq -r .body $HOOKS | jq -r .message | grep -q 'The system is shutting down'"
term restart running
check "plain SIGTERM (restart): no final backup" sh -c "! grep -q 'Final backup\|shutting down' $T/restart.log"
check "plain SIGTERM (restart): exit status 0" [ "$TERM_RC" -eq 0 ]
finish
