#!/usr/bin/env bash
# Two VMs never run on the same state: the lease <prefix>lease.json.
# VM "a" backs up and holds the lease; VM "b" refuses to restore or back up
# until told --take-over; then "a" is refused; an expired lease is taken;
# backup --final gives the lease back; the lease write is conditional, and
# of two VMs racing for a free or an expired lease exactly one wins (on RGW,
# which checks If-Match / If-None-Match itself).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_root
start_s3

A=$T/a/home/agent B=$T/b/home/agent
mkdir -p "$A/.claude" "$B/.claude"
echo "from a" >"$A/.claude/file"
echo "b's own" >"$B/.claude/file"
write_config "$T/a.json" "$A" "shared/" '"lease_ttl": "1h"'
write_config "$T/b.json" "$B" "shared/" '"lease_ttl": "1h"'
# state.paths are derived from each home; restore needs the same paths:
# both "VMs" use a's paths, as two VMs of one workspace would.
sed -i "s|\"state\": {|\"state\": {\"paths\": [\"$A/.claude\", \"$A/.claude.json\"], |" "$T/b.json"
VMA() { AGENTBOX_INSTANCE_ID=vm-a "$BIN/agentbox" -c "$T/a.json" "$@"; }
VMB() { AGENTBOX_INSTANCE_ID=vm-b "$BIN/agentbox" -c "$T/b.json" "$@"; }
holder() { $S3 get shared/lease.json | jq -r .instance; }

check "vm-a backs up and takes the lease" VMA backup
check "the lease names vm-a" [ "$(holder)" = vm-a ]
echo "changed on a" >"$A/.claude/file"
VMB restore >"$T/out" 2>&1
check "vm-b refuses to restore while vm-a holds the lease" [ $? -eq 1 ]
check "the refusal names the holder and --take-over" grep -q "held by instance vm-a.*--take-over" "$T/out"
check "nothing local changed" grep -q "changed on a" "$A/.claude/file"
VMB backup --force >"$T/out" 2>&1
check "vm-b refuses to back up over vm-a's state" [ $? -eq 1 ]
check "vm-b --take-over restores" VMB restore --take-over
check "the lease names vm-b" [ "$(holder)" = vm-b ]
check "restored vm-a's backup" grep -q "from a" "$A/.claude/file"
VMA backup --force >"$T/out" 2>&1
check "vm-a is now refused" [ $? -eq 1 ]

# an expired lease is taken without --take-over
write_config "$T/b.json" "$B" "shared/" '"lease_ttl": "1s"'
sed -i "s|\"state\": {|\"state\": {\"paths\": [\"$A/.claude\", \"$A/.claude.json\"], |" "$T/b.json"
check "vm-b renews with a 1s lease" VMB backup --force
sleep 2
check "vm-a takes an expired lease" VMA backup --force
check "the lease names vm-a again" [ "$(holder)" = vm-a ]

# backup --final gives it back; then vm-b restores without --take-over
check "backup --final releases the lease" VMA backup --final
check "no lease left" not $S3 head shared/lease.json
check "vm-b restores at once after a final backup" VMB restore

# the write is conditional: the server refuses it (s3-tool exits 3: 412)
echo '{"instance": "x"}' >"$T/l.json"
$S3 put-if-none-match shared/lease.json "$T/l.json" 2>"$T/err"
check "If-None-Match: * on an existing lease is refused by the server (412)" [ $? -eq 3 ]
etag=$($S3 head shared/lease.json | cut -d' ' -f2)
$S3 put-if-match shared/lease.json "$T/l.json" '"0123456789abcdef0123456789abcdef"' 2>"$T/err"
check "If-Match with a stale ETag is refused (412)" [ $? -eq 3 ]
check "the refusal is the server's 412" grep -q 'HTTP 412' "$T/err"
check "If-Match with the current ETag succeeds" $S3 put-if-match shared/lease.json "$T/l.json" "$etag"

# Two VMs race for the lease, ROUNDS times each way: both start at once on
# a free lease (If-None-Match: *), then on an expired one (If-Match over the
# same ETag). Exactly one backup succeeds; the other is refused.
# Each VM has its own runtime_dir: on one machine backups take turns (flock).
# The lease lasts 3 s, longer than a backup even under the sanitizers, so a
# loser cannot find it expired already.
ROUNDS=3 TTL=3
# s3rver's proxy decides conditions with a HEAD before forwarding: not atomic.
[ "$S3_BACKEND" = rgw ] || { skip "the lease race: needs RGW (S3_BACKEND=$S3_BACKEND)"; finish; }
write_config "$T/a.json" "$A" "race/" "\"lease_ttl\": \"${TTL}s\""
write_config "$T/b.json" "$B" "race/" "\"lease_ttl\": \"${TTL}s\""
sed -i "s|\"state\": {|\"state\": {\"paths\": [\"$A/.claude\", \"$A/.claude.json\"], |; s|\"runtime_dir\": \"$T/run\"|\"runtime_dir\": \"$T/run-b\"|" "$T/b.json"
grep -q "run-b" "$T/b.json" || fail "vm-b's own runtime_dir"
race() { # round: starts both, prints "A-status B-status"
	VMA backup --force >"$T/race-a.$1" 2>&1 &
	local a=$!
	VMB backup --force >"$T/race-b.$1" 2>&1 &
	local b=$!
	wait $a
	local ra=$?
	wait $b
	echo "$ra $?"
}
one_won() { [ "$1" = "0 1" ] || [ "$1" = "1 0" ]; }
won_free=0 won_expired=0
for i in $(seq 1 $ROUNDS); do
	$S3 delete race/lease.json
	res=$(race "free$i")
	one_won "$res" && won_free=$((won_free + 1))
	sleep $TTL.2 # the winner's lease expires
	res=$(race "exp$i")
	one_won "$res" && won_expired=$((won_expired + 1))
	sleep $TTL.2
done
[ "$won_free" = $ROUNDS ] && [ "$won_expired" = $ROUNDS ] || tail -n 3 "$T"/race-*
check "free lease: exactly one of two racing VMs won, each of $ROUNDS rounds" [ "$won_free" = $ROUNDS ]
check "expired lease: exactly one of two racing VMs won, each of $ROUNDS rounds" [ "$won_expired" = $ROUNDS ]
echo "losers: $(cat "$T"/race-* | grep -c 'changed the lease') lost the conditional write (412)," \
	"$(cat "$T"/race-* | grep -c 'held by instance') found the winner's lease"
check "every loser was refused for the lease" \
	[ "$(cat "$T"/race-* | grep -c -e 'held by instance' -e 'changed the lease')" -ge $((2 * ROUNDS)) ]
finish
