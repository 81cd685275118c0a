#!/usr/bin/env bash
# The disk fills up during `agentbox restore`: the state paths on a small
# tmpfs, a generation larger than the room left. The restore must fail
# with a message that says so, change nothing local and remove its
# staging directory (.agentbox-restore-*); once there is room, the same
# generation restores byte for byte. Three ways: less room than the
# archive declares, room for the declared bytes but not for the pages the
# files take (the disk fills up in the middle), no inodes left; the first
# two also on an old-layout (v1) generation.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_root
need_cmd jq
start_s3rver

M=$T/mnt
mkdir -p "$M"
mount -t tmpfs -o size=60m,nr_inodes=5000 tmpfs "$M" || { skip "cannot mount a tmpfs"; exit 0; }
at_exit "umount -l $M"
H=$M/agent
mkdir -p "$H/.claude/projects"
head -c $((12 * 1024 * 1024)) /dev/urandom >"$H/.claude/projects/big"
for i in $(seq 1 100); do echo "session $i" >"$H/.claude/projects/s$i.jsonl"; done
# 1500 files of 4097 bytes: 6 MiB declared, 12 MiB of 4 KiB pages on the disk
mkdir -p "$H/.claude/many"
for i in $(seq 1 1500); do head -c 4097 /dev/urandom >"$H/.claude/many/$i"; done
echo '{"v": 1}' >"$H/.claude.json"
write_config "$T/c.json" "$H" "n/" '"paths": ["'"$H"'/.claude", "'"$H"'/.claude.json"]'
CFG=$T/c.json
AB() { "$BIN/agentbox" -c "$CFG" "$@"; }
listing() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; }; }
staging_left() { [ -n "$(find "$M" -maxdepth 3 -name '.agentbox-restore-*')" ]; }

AB backup >"$T/out" 2>&1 || { fail "backup"; cat "$T/out"; finish; }
listing >"$T/stored"
# The same tree as an old-layout (v1) generation under o/, made as the v1
# writer did (as tests/regress/state-v2.sh does): its restore extracts a
# tar stream (lib/tarball.c), where the mid-extraction defect was.
tar --format=pax -C / -cf - "${H#/}/.claude" "${H#/}/.claude.json" 2>/dev/null | zstd -q >"$T/v1.tar.zst"
id=20260101T000000Z-000001
$S3 put "o/generations/$id.tar.zst" "$T/v1.tar.zst"
jq -n --arg h "$H" --arg id "$id" --arg sha "$(sha256sum "$T/v1.tar.zst" | cut -d' ' -f1)" \
	--argjson size "$(stat -c %s "$T/v1.tar.zst")" \
	'{paths: [$h + "/.claude", $h + "/.claude.json"], format: 1, generation: $id, size: $size,
	  sha256: $sha, files: 1702, bytes: 0, tree_digest: "", host: "test"}' >"$T/m.json"
$S3 put "o/generations/$id.json" "$T/m.json"
echo "{\"generation\": \"$id\"}" >"$T/latest" && $S3 put o/latest "$T/latest"
write_config "$T/o.json" "$H" "o/" '"paths": ["'"$H"'/.claude", "'"$H"'/.claude.json"]'
# local changes the failed restore must keep
echo "newer local work" >>"$H/.claude/projects/s1.jsonl"
echo '{"v": 2}' >"$H/.claude.json"

# (1) bytes: fill the tmpfs up to FREE KiB free
avail() { df --output=avail -k "$M" | tail -n 1 | tr -d ' '; }
full_restore() {
	local name=$1 free=$2
	head -c $((($(avail) - free) * 1024)) /dev/zero >"$M/filler" 2>/dev/null
	echo "  $name: $(avail) KiB free"
	listing >"$T/before"
	AB restore >"$T/out" 2>&1
	rc=$?
	sed "s/^/  $name: /" "$T/out" | cut -c1-400
	check "$name: the restore fails" [ $rc -ne 0 ]
	check "$name: the message says no space is left" grep -qi "no space left on device\|more than the disk has free" "$T/out"
	check "$name: it says nothing local was changed" grep -q "nothing local was changed" "$T/out"
	listing >"$T/after"
	check "$name: nothing local changed" diff "$T/before" "$T/after"
	check "$name: the staging directory is removed" not staging_left
	rm -f "$M/filler"
}
# less room than the sizes the archive declares: refused before writing
full_restore "no space (declared sizes)" $((6 * 1024))
# room for the declared sizes, not for the blocks the small files take:
# the disk fills up in the middle of the extraction
# (this restore reported success with short files before lib/tarball.c
# took libarchive's ARCHIVE_WARN on a failed write as the failure it is)
full_restore "no space (mid-extraction)" $((20 * 1024))

# (2) inodes: 100 files need 100 inodes; leave fewer
i=0
while mkdir "$M/i$i" 2>/dev/null && [ $i -lt 6000 ]; do i=$((i + 1)); done
rmdir "$M/i$((i - 1))" "$M/i$((i - 2))" "$M/i$((i - 3))" "$M/i$((i - 4))" "$M/i$((i - 5))" 2>/dev/null
listing >"$T/before"
AB restore >"$T/out" 2>&1
rc=$?
sed 's/^/  no inodes: /' "$T/out" | cut -c1-400
check "no inodes: the restore fails" [ $rc -ne 0 ]
check "no inodes: the message says no space is left" grep -qi "no space left on device\|more than the disk has free" "$T/out"
check "no inodes: it says nothing local was changed" grep -q "nothing local was changed" "$T/out"
listing >"$T/after"
check "no inodes: nothing local changed" diff "$T/before" "$T/after"
check "no inodes: the staging directory is removed" not staging_left
rm -rf "$M"/i[0-9]*

# the same on the old layout (v1), before the v2 generation is restored
CFG=$T/o.json
full_restore "v1: no space (declared sizes)" $((6 * 1024))
full_restore "v1: no space (mid-extraction)" $((20 * 1024))
AB restore --take-over >"$T/out" 2>&1
check "v1, with room: the restore succeeds" [ $? -eq 0 ]
listing >"$T/after"
check "v1, with room: byte for byte" diff "$T/stored" "$T/after"
check "v1, with room: no staging directory left" not staging_left
echo "newer local work" >>"$H/.claude/projects/s1.jsonl"
CFG=$T/c.json

# with room again: the generation restores byte for byte
AB restore >"$T/out" 2>&1
check "with room: the restore succeeds" [ $? -eq 0 ]
listing >"$T/after"
check "with room: the stored generation, byte for byte" diff "$T/stored" "$T/after"
check "with room: no staging directory left" not staging_left
finish
