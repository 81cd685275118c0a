#!/usr/bin/env bash
# Fault injection between `agentbox backup`/`restore` and the bucket
# (s3rver behind the fault proxy, tests/state/sigv4-proxy.js): connection
# resets, a stall mid-body, 5xx, truncated and damaged bodies and wrong
# ETags, each on the request where it hurts: the v2 objects (docs/state.md
# "Layout in the bucket"): packs/ (the data), index/, generations/<id>.tree
# (the manifest), latest and lease.json. Every scenario also checks that
# its faults were injected (the proxy's count), so that a pattern that no
# longer matches any request fails instead of passing unexercised. tests/regress/state-s3.sh
# covers the same faults on single lib/s3 requests (s3-tool), state-kill.sh
# SIGKILL of a backup, state-verify.sh damaged uploads and read-backs;
# here the programs' whole backup and restore run through them. After each
# scenario the invariant is checked: the newest generation that verifies
# (restore --verify) restores byte for byte, a failed run changed nothing
# local and did not move "latest".
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_root
start_s3rver

H=$T/home/agent
mkdir -p "$H/.claude/projects"
head -c $((12 * 1024 * 1024)) /dev/urandom >"$H/.claude/projects/big"
for i in $(seq 1 50); do echo "line $i" >"$H/.claude/projects/s$i.jsonl"; done
echo '{"v": 1}' >"$H/.claude.json"
write_config "$T/c.json" "$H" "f/" '"paths": ["'"$H"'/.claude", "'"$H"'/.claude.json"]'
AB() { AGENTBOX_INSTANCE_ID=vm-f "$BIN/agentbox" -c "$T/c.json" "$@"; }
listing() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; }; }
latest() { $S3 get f/latest 2>/dev/null | jq -r .generation; }
is_latest() { [ -n "$1" ] && [ "$(latest)" = "$1" ]; }
# A restore on a new VM has no index cache: dropped before each restore so
# that the index objects are read from the bucket, through the faults.
nocache() { rm -rf "$T/run/index-cache"; }
# mark, then injected NAME N: at least N faults were injected since mark.
mark() { I0=$(proxy_stat injected); }
injected() { check "$1: the faults were injected (at least $2)" [ $(($(proxy_stat injected) - I0)) -ge "$2" ]; }
# The largest pack (the first backup's, with most of "big"): a fault on
# one pack's requests only, so that parallel downloads of other packs do
# not take it.
big_pack() { (cd "$T/s3data/$BUCKET/f/packs" && ls -S | head -n 1 | sed 's/[.]_S3rver_.*//'); }
change() { echo "change $1" >>"$H/.claude/projects/s1.jsonl"; head -c 4096 /dev/urandom >>"$H/.claude/projects/big"; }
# The newest generation in the bucket that verifies, restored into an
# empty home, must equal the listing taken when it was made ($T/l.<gen>).
invariant() {
	local name=$1 gen
	gen=$(latest)
	nocache
	if ! AB restore --verify >"$T/v.out" 2>&1; then
		fail "$name: the latest generation $gen does not verify"; cat "$T/v.out"; return
	fi
	rm -rf "$H/.claude" "$H/.claude.json"
	AB restore >"$T/r.out" 2>&1 || { fail "$name: restore of $gen"; cat "$T/r.out"; return; }
	listing >"$T/post"
	check "$name: newest verified generation $gen restores byte for byte" \
		diff "$T/l.$gen" "$T/post"
}
# backup_ok NAME: a backup (through whatever faults are set) succeeds,
# its generation becomes latest; the listing is kept for invariant.
backup_ok() {
	local name=$1 gen
	listing >"$T/lb"
	AB backup >"$T/b.out" 2>&1
	check "$name: backup succeeds through the faults" [ $? -eq 0 ]
	gen=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/b.out")
	check "$name: its generation is latest" is_latest "$gen"
	[ -n "$gen" ] && cp "$T/lb" "$T/l.$gen"
	[ -n "$gen" ] || cat "$T/b.out"
	faults_clear
}
# backup_fails NAME: a backup fails through the faults, latest unmoved,
# nothing local changed, one line saying the previous generation is intact.
backup_fails() {
	local name=$1 before
	before=$(latest)
	listing >"$T/lb"
	AB backup >"$T/b.out" 2>&1
	check "$name: backup fails" [ $? -ne 0 ]
	check "$name: says the previous generation is intact" grep -q "previous generation is intact" "$T/b.out"
	check "$name: latest did not move" [ "$(latest)" = "$before" ]
	listing >"$T/la"
	check "$name: nothing local changed" diff "$T/lb" "$T/la"
	faults_clear
}
# restore_fails NAME: a restore fails, says nothing local changed, and
# nothing did; no staging directory left.
restore_fails() {
	local name=$1
	change "$name" # local content differs from the bucket's
	listing >"$T/lb"
	nocache
	AB restore >"$T/r.out" 2>&1
	check "$name: restore fails" [ $? -ne 0 ]
	check "$name: says nothing local was changed" grep -q "nothing local was changed" "$T/r.out"
	listing >"$T/la"
	check "$name: and nothing local changed" diff "$T/lb" "$T/la"
	check "$name: no staging directory left" [ -z "$(find "$H" -maxdepth 2 -name '.agentbox-restore-*')" ]
	faults_clear
}

backup_ok "no fault"
invariant "no fault"

# --- uploads: each fault once, the backup retries through it ---
change reset
mark
fault '^PUT .*/packs/' reset 1
fault '^PUT .*/index/' reset 1
fault '^PUT .*/generations/.*[.]tree$' reset 1
backup_ok "resets on a pack, the index and the tree"
injected "resets on a pack, the index and the tree" 3
change 5xx
mark
fault '^PUT .*/packs/' 500 2
fault '^PUT .*/index/' 503 1
fault '^PUT .*/latest$' 500 1
backup_ok "500 on a pack twice, 503 on the index, 500 on latest"
injected "500 on a pack twice, 503 on the index, 500 on latest" 4
change lease
mark
fault '^GET .*/lease[.]json$' 503 1
fault '^PUT .*/lease[.]json$' reset 1
backup_ok "lease read and write each failing once"
injected "lease read and write each failing once" 2
# the index objects listed and read at the start of a backup (no cache)
change index-get
nocache
mark
fault '^GET .*/index/' 500 1
fault '^GET .*/index/' reset 1
backup_ok "index reads failing (500, reset) at the start of a backup"
injected "index reads failing (500, reset) at the start of a backup" 2
invariant "after the upload faults"

# --- uploads that keep failing: the backup fails, nothing moves ---
change always500
mark
fault '^PUT .*/packs/' 500 100
backup_fails "every pack answered 500"
injected "every pack answered 500" 2
change alwaysindex
mark
fault '^PUT .*/index/' 503 100
backup_fails "the index never written (503)"
injected "the index never written (503)" 2
change alwaystree
mark
fault '^PUT .*/generations/.*[.]tree$' reset 100
backup_fails "the tree never written (resets)"
injected "the tree never written (resets)" 2
change alwaysreset
mark
fault '^PUT .*/latest$' reset 100
backup_fails "latest never written (resets)"
injected "latest never written (resets)" 2
invariant "after the failed backups"

# --- wrong ETags ---
# The lease is read with its ETag and written back with If-Match: a wrong
# ETag makes the conditional write fail (412), as another writer would;
# the backup must not take the lease over blindly.
change etag-lease
mark
fault '^GET .*/lease[.]json$' etag 1
AB backup >"$T/b.out" 2>&1
rc=$?
sed 's/^/  wrong lease ETag: /' "$T/b.out" | cut -c1-200
if [ $rc -eq 0 ]; then
	gen=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/b.out")
	check "wrong lease ETag: a backup that succeeds is latest" is_latest "$gen"
	listing >"$T/l.$gen"
else
	check "wrong lease ETag: a failed backup says the previous generation is intact" \
		grep -q "previous generation is intact" "$T/b.out"
fi
injected "wrong lease ETag" 1
faults_clear
check "wrong lease ETag: the lease is held by nobody or by us afterwards" \
	bash -c "h=\$($S3 get f/lease.json 2>/dev/null | jq -r .instance); [ -z \"\$h\" ] || [ \"\$h\" = null ] || [ \"\$h\" = vm-f ]"
# A wrong ETag on a pack's answer (v1: a part's, sent in the completion):
# whatever the client makes of it, the generation must read back or fail.
change etag-part
mark
fault '^PUT .*/packs/' etag 1
AB backup >"$T/b.out" 2>&1
if [ $? -eq 0 ]; then
	gen=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/b.out")
	listing >"$T/l.$gen"
	check "wrong pack ETag: is latest" is_latest "$gen"
	check "wrong pack ETag: the generation verifies" AB restore --verify
else
	check "wrong pack ETag: failure leaves latest readable" AB restore --verify
fi
injected "wrong pack ETag" 1
faults_clear
invariant "after the wrong ETags"

# --- downloads during a restore ---
change trunc
nocache
mark
fault '^GET .*/packs/' truncate 2
AB restore >"$T/r.out" 2>&1
check "truncated pack bodies twice: the restore resumes and succeeds" [ $? -eq 0 ]
injected "truncated pack bodies" 2
listing >"$T/la"
check "truncated pack bodies: restored byte for byte" diff "$T/l.$(latest)" "$T/la"
faults_clear
change reset-get
nocache
mark
fault '^GET .*/packs/' reset 1
fault '^GET .*/index/' reset 1
fault '^GET .*/generations/.*[.]tree$' 500 1
fault '^GET .*/latest$' 503 1
AB restore >"$T/r.out" 2>&1
check "resets and 5xx on latest, tree, index, pack: the restore succeeds" [ $? -eq 0 ] || cat "$T/r.out"
injected "resets and 5xx on latest, tree, index, pack" 4
listing >"$T/la"
check "resets and 5xx: restored byte for byte" diff "$T/l.$(latest)" "$T/la"
faults_clear
# A stall: the answer's head and half its body, then silence on an open
# connection; the client's low-speed limit (30 s) ends it and resumes.
change stall
nocache
mark
fault "^GET .*/packs/$(big_pack)" stall 1
start=$(date +%s)
AB restore >"$T/r.out" 2>&1
rc=$?
check "a stalled pack download: the restore resumes and succeeds" [ $rc -eq 0 ]
check "a stalled pack download: given up on within 60 s" [ $(($(date +%s) - start)) -lt 60 ]
injected "a stalled pack download" 1
listing >"$T/la"
check "a stalled pack download: restored byte for byte" diff "$T/l.$(latest)" "$T/la"
faults_clear
# A truncated body whose resumption answers with another ETag (the object
# was replaced meanwhile): never spliced on; the restore fails naming it,
# nothing local changed. (The proxy changes only the header, so splicing
# would even give the right bytes here: the ETag is all that tells.)
# One pack only, so that the second request is that pack's resumption.
change etag-resume
nocache
mark
p=$(big_pack)
fault "^GET .*/packs/$p" truncate 1
fault "^GET .*/packs/$p" etag 1
listing >"$T/lb"
AB restore >"$T/r.out" 2>&1
rc=$?
sed 's/^/  changed ETag on resume: /' "$T/r.out" | cut -c1-220
listing >"$T/la"
check "changed ETag on resume: the restore fails" [ $rc -ne 0 ]
check "changed ETag on resume: the failure names the changed object" grep -q "changed while it was read" "$T/r.out"
check "changed ETag on resume: nothing local changed" diff "$T/lb" "$T/la"
injected "changed ETag on resume" 2
faults_clear
mark
fault '^GET .*/packs/' 500 100
restore_fails "packs answered 500 every time"
injected "packs answered 500 every time" 2
mark
fault '^GET .*/packs/' corrupt 100
restore_fails "packs damaged on every read"
injected "packs damaged on every read" 1
mark
fault '^GET .*/generations/.*[.]tree$' corrupt 100
restore_fails "the tree damaged on every read"
injected "the tree damaged on every read" 1
mark
fault '^GET .*/index/' corrupt 100
restore_fails "the index damaged on every read"
injected "the index damaged on every read" 1
mark
fault '^GET .*/packs/' truncate 100
restore_fails "packs truncated on every read"
injected "packs truncated on every read" 2
invariant "at the end"

# --- the old layout (v1: one .tar.zst and a .json manifest a generation,
# still restored): its download faults, on a generation made as v1 did
# (as tests/regress/state-v2.sh does) under the prefix o/ ---
tar --format=pax -C / -cf "$T/v1.tar" "${H#/}/.claude" "${H#/}/.claude.json" 2>/dev/null
listing >"$T/lv1"
zstd -q -f "$T/v1.tar" -o "$T/v1.tar.zst"
id=20260101T000000Z-000001
$S3 put "o/generations/$id.tar.zst" "$T/v1.tar.zst"
# the v1 writer's members; ordered so that the byte the proxy's corrupt
# flips (the middle one) is in the archive's sha256, as with the v1
# manifests this test used to damage (checked below)
sha=$(sha256sum "$T/v1.tar.zst" | cut -d' ' -f1)
jq -n --arg h "$H" --arg id "$id" --arg sha "$sha" --argjson size "$(stat -c %s "$T/v1.tar.zst")" \
	'{paths: [$h + "/.claude", $h + "/.claude.json"], format: 1, generation: $id, size: $size,
	  sha256: $sha, created: "2026-01-01T00:00:00Z", files: 53, bytes: 0, tree_digest: $sha,
	  host: "test", workspace: "default", agentbox_version: "0.1.0", compression: "zstd"}' >"$T/m.json"
mid=$(($(stat -c %s "$T/m.json") / 2)) at=$(grep -bo '"sha256": "' "$T/m.json" | cut -d: -f1)
check "v1: the manifest's middle byte is in its sha256" [ "$mid" -ge $((at + 11)) -a "$mid" -lt $((at + 75)) ]
$S3 put "o/generations/$id.json" "$T/m.json"
echo "{\"generation\": \"$id\"}" >"$T/latest" && $S3 put o/latest "$T/latest"
write_config "$T/o.json" "$H" "o/" '"paths": ["'"$H"'/.claude", "'"$H"'/.claude.json"]'
AB() { AGENTBOX_INSTANCE_ID=vm-f "$BIN/agentbox" -c "$T/o.json" "$@"; }
latest() { $S3 get o/latest 2>/dev/null | jq -r .generation; }
cp "$T/lv1" "$T/l.$id"
change v1
AB restore --take-over >"$T/r.out" 2>&1
check "v1: the old-layout generation restores" grep -q "restored generation $id" "$T/r.out"
listing >"$T/la"
check "v1: byte for byte" diff "$T/lv1" "$T/la"
change v1-trunc
mark
fault '^GET .*/o/generations/.*[.]tar[.]zst' truncate 2
AB restore >"$T/r.out" 2>&1
check "v1: truncated archive bodies twice: the restore resumes and succeeds" [ $? -eq 0 ]
listing >"$T/la"
check "v1: truncated archive bodies: restored byte for byte" diff "$T/lv1" "$T/la"
injected "v1: truncated archive bodies" 2
faults_clear
change v1-etag
mark
fault '^GET .*/o/generations/.*[.]tar[.]zst' truncate 1
fault '^GET .*/o/generations/.*[.]tar[.]zst' etag 1
listing >"$T/lb"
AB restore >"$T/r.out" 2>&1
rc=$?
listing >"$T/la"
check "v1: changed ETag on resume: the restore fails" [ $rc -ne 0 ]
check "v1: changed ETag on resume: the failure names the changed object" grep -q "changed while it was read" "$T/r.out"
check "v1: changed ETag on resume: nothing local changed" diff "$T/lb" "$T/la"
injected "v1: changed ETag on resume" 2
faults_clear
mark
fault '^GET .*/o/generations/.*[.]tar[.]zst' corrupt 100
restore_fails "v1: archive damaged on every read"
injected "v1: archive damaged on every read" 1
mark
fault '^GET .*/o/generations/.*[.]json$' corrupt 100
restore_fails "v1: manifest damaged on every read"
injected "v1: manifest damaged on every read" 1
invariant "v1 at the end"
finish
