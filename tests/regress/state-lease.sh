#!/usr/bin/env bash
# Two VMs never run on the same state: the lease <prefix>lease.json.
# VM "a" backs up and holds the lease; VM "b" refuses to restore or back up
# until told --take-over; then "a" is refused; an expired lease is taken;
# backup --final gives the lease back; the lease write is conditional.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_root
start_s3rver

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

# the write is conditional: a stale ETag loses (412 from the proxy)
echo '{"instance": "x"}' >"$T/l.json"
before=$(proxy_stat preconditionFailed)
check "If-None-Match: * on an existing lease fails" \
	not "$HELPERS/s3-tool" "$S3_ENDPOINT" us-east-1 "$BUCKET" "$CREDS" put-if-none-match shared/lease.json "$T/l.json"
check "the conditional write was refused by the server" [ "$(proxy_stat preconditionFailed)" != "$before" ]
finish
