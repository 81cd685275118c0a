#!/usr/bin/env bash
# A generation is "verified" only when it reads back as it was stored, and
# uploads carry Content-MD5 so that a store refuses damaged bytes. Against
# s3rver behind the SigV4 proxy and its corruption faults:
#   - an upload damaged after the payload-hash check is refused (BadDigest),
#     sent again, and the generation restores byte for byte;
#   - a bucket that returns damaged bytes on GET: backup --final fails,
#     says so and keeps the lease; restore --verify fails; nothing local
#     changes;
#   - one damaged read is read once more and then passes.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_root
start_s3rver

H=$T/home/agent
mkdir -p "$H/.claude/projects"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$H/.claude/projects/blob"
echo '{"k": 1}' >"$H/.claude.json"
echo "session" >"$H/.claude/projects/s1.jsonl"
write_config "$T/c.json" "$H" "v/"
AB() { AGENTBOX_INSTANCE_ID=vm-v "$BIN/agentbox" -c "$T/c.json" "$@"; }
listing() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; }; }
holder() { $S3 get v/lease.json 2>/dev/null | jq -r .instance; }

# 1. one upload damaged on the way: refused thanks to Content-MD5, resent
fault '^PUT .*/packs/' corrupt-upload 1
AB backup >"$T/out" 2>&1
check "a backup whose upload was damaged once succeeds" [ $? -eq 0 ]
check "the damaged upload was refused by its Content-MD5 (BadDigest)" [ "$(proxy_stat badDigest)" = 1 ]
check "every upload carried a matching Content-MD5" [ "$(proxy_stat rejected)" = 0 ]
check "the stored generation reads back as stored" AB restore --verify
listing >"$T/before"
rm -rf "$H/.claude" "$H/.claude.json"
AB restore >"$T/out" 2>&1 || cat "$T/out"
listing >"$T/after"
check "and restores byte for byte" diff "$T/before" "$T/after"

# 2. the bucket returns damaged bytes on every GET of a pack
echo "more" >>"$H/.claude/projects/s1.jsonl"
fault '^GET .*/packs/' corrupt 100
AB backup --final >"$T/out" 2>"$T/err"
rc=$?
sed 's/^/  corrupt GET: /' "$T/err" | cut -c1-220
check "final backup on a bucket returning damaged bytes fails" [ $rc -eq 1 ]
check "it says the generation does not read back as stored" grep -q "does not read back as stored" "$T/err"
check "the log says which check failed" grep -q "a chunk in pack .* fails authentication (damaged" "$T/err"
check "the damaged read was tried twice" [ "$(grep -c 'fails authentication' "$T/err")" -ge 2 ]
check "the lease is kept" [ "$(holder)" = vm-v ]
AB restore --verify >"$T/out" 2>&1
check "restore --verify fails too" [ $? -eq 1 ]
listing >"$T/l1"
AB restore >"$T/out" 2>&1
check "a restore refuses the damaged bytes" [ $? -eq 1 ]
listing >"$T/l2"
check "and changes nothing local" diff "$T/l1" "$T/l2"
faults_clear

# 3. one damaged read only: read once more, verified, lease given back
fault '^GET .*/packs/' corrupt 1
AB backup --final >"$T/out" 2>"$T/err"
check "one damaged read: final backup succeeds" [ $? -eq 0 ]
check "after reading once more" grep -q "reading it once more" "$T/err"
check "the lease is given back" [ -z "$(holder)" ]
finish
