#!/usr/bin/env bash
# Hostile, corrupt and mismatched generations are refused by agentbox
# restore with one clear line, and change nothing: the local state stays
# byte-for-byte, nothing appears outside it, no staging directory is left.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_cmd zstd
need_root
start_s3

H=$T/home/agent
O=$T/outside
mkdir -p "$H/.claude/sub" "$O"
echo "precious" >"$H/.claude/sub/file"
echo '{"k": 1}' >"$H/.claude.json"
# (the parent's own mtime moves: the staging directory lives there briefly)
snapshot() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; tree_listing "$O"; } }
snapshot >"$T/before"

# put_generation PREFIX ARCHIVE [SIZE] [SHA]: uploads ARCHIVE as a
# generation with a manifest (size and sha256 as given, else the real ones)
# and points latest at it.
put_generation() {
	local prefix=$1 f=$2 size sha id=20260101T000000Z-000001
	size=${3:-$(stat -c %s "$f")}
	sha=${4:-$(sha256sum "$f" | cut -d' ' -f1)}
	$S3 put "${prefix}generations/$id.tar.zst" "$f" || return 1
	cat >"$T/manifest.json" <<JSON
{"format": 1, "generation": "$id", "size": $size, "sha256": "$sha", "files": 2, "bytes": 10,
 "paths": [${MPATHS:-"\"$H/.claude\", \"$H/.claude.json\""}], "host": "test", "tree_digest": ""}
JSON
	$S3 put "${prefix}generations/$id.json" "$T/manifest.json" || return 1
	echo "{\"generation\": \"$id\"}" >"$T/latest"
	$S3 put "${prefix}latest" "$T/latest"
}

# refused CASE EXPECTED_TEXT: restore must fail, say so, and change nothing
refused() {
	local case=$1 want=$2
	write_config "$T/c.json" "$H" "$case/"
	"$BIN/agentbox" -c "$T/c.json" restore >"$T/out" 2>"$T/err"
	local rc=$?
	snapshot >"$T/after"
	if [ $rc -ne 1 ]; then echo "exit $rc"; cat "$T/err"; return 1; fi
	sed "s/^/  $case: /" "$T/err"
	grep -q -- "$want" "$T/err" || { echo "missing '$want' in:"; cat "$T/err"; return 1; }
	diff "$T/before" "$T/after" || return 1
	! ls -a "$H" | grep -q agentbox-restore || { echo "staging left"; return 1; }
}

for c in dotdot absolute symlink device outside huge hardlink deep; do
	python3 "$TOP/tests/state/hostile.py" "$c" "$H/.claude" "$O" "$T/$c.tar" &&
		zstd -q -f "$T/$c.tar" -o "$T/$c.tar.zst" && put_generation "$c/" "$T/$c.tar.zst" ||
		fail "building case $c"
done
check "entry with .. refused" refused dotdot "has a '..' component"
check "absolute path refused" refused absolute "has an absolute path"
check "write through an escaping symlink refused" refused symlink "refused"
check "device refused" refused device "is a device, fifo or socket"
check "entry outside the state paths refused" refused outside "outside the state paths"
check "huge declared size refused" refused huge "more than the disk has free"
check "hard link refused" refused hardlink "is a hard link"
check "refused after extracting below PATH_MAX depth: staging removed" refused deep "is a device"
MPATHS="\"$H/.claude\", \"$O\"" put_generation manifestpaths/ "$T/outside.tar.zst"
check "a manifest naming other paths cannot widen what is written" refused manifestpaths "outside the state paths"

# a good archive, then damaged in ways the manifest or the stream catch
tar -C / -cf "$T/good.tar" "${H#/}/.claude" "${H#/}/.claude.json"
zstd -q -f "$T/good.tar" -o "$T/good.tar.zst"
size=$(stat -c %s "$T/good.tar.zst")
head -c $((size / 2)) "$T/good.tar.zst" >"$T/trunc.tar.zst"
put_generation truncated/ "$T/trunc.tar.zst"
check "truncated archive refused" refused truncated "refused"
put_generation badsha/ "$T/good.tar.zst" "$size" "$(printf '0%.0s' $(seq 64))"
check "manifest sha256 not matching the object refused" refused badsha "the manifest says"
put_generation badsize/ "$T/good.tar.zst" 12345
check "manifest size not matching the object refused" refused badsize "does not match its object"
printf 'not zstd at all' >"$T/junk"
put_generation junk/ "$T/junk"
check "garbage object refused" refused junk "refused"
$S3 put "nomanifest/generations/20260101T000000Z-000001.tar.zst" "$T/good.tar.zst"
check "archive without manifest is not trusted" refused nomanifest "No generation"

# Taken, but defused: a set-id root program and files of other users come
# back without set-id bits and owned by the workspace user (here nobody).
python3 "$TOP/tests/state/hostile.py" setid "$H/.claude" "$O" "$T/setid.tar" &&
	zstd -q -f "$T/setid.tar" -o "$T/setid.tar.zst" && put_generation setid/ "$T/setid.tar.zst" ||
	fail "building case setid"
write_config "$T/c.json" "$H" "setid/"
jq '.workspace.user = "nobody"' "$T/c.json" >"$T/c2.json"
"$BIN/agentbox" -c "$T/c2.json" restore >"$T/out" 2>&1 || cat "$T/out"
modes() { (cd "$H/.claude" && stat -c '%n %a %u:%g' suid sgid sgid-dir sticky theirs mine-rootgroup); }
modes | sed 's/^/  setid: /'
nobody=$(id -u nobody):$(id -g nobody)
check "setuid root file restored without the bit, owned by the workspace user" \
	[ "$(modes | grep '^suid ')" = "suid 755 $nobody" ]
check "setgid file and directory restored without the bit" \
	bash -c "[ \"\$(stat -c %a '$H/.claude/sgid' '$H/.claude/sgid-dir' | tr '\n' ' ')\" = '755 775 ' ]"
check "sticky bit of a file dropped" [ "$(stat -c %a "$H/.claude/sticky")" = 644 ]
check "another user's file belongs to the workspace user" [ "$(modes | grep '^theirs ')" = "theirs 644 $nobody" ]
check "a group the workspace user is not in is replaced" \
	[ "$(modes | grep '^mine-rootgroup ')" = "mine-rootgroup 640 $nobody" ]
check "no set-id file anywhere in the state" [ -z "$(find "$H/.claude" -perm /6000)" ]
check "no file capability or other extended attribute restored" python3 -c "
import os, sys
p = sys.argv[1]
sys.exit(1 if not os.path.exists(p) or os.listxattr(p) else 0)" "$H/.claude/capable"
finish
