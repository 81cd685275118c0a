#!/usr/bin/env bash
# Hostile and corrupt v2 generations (trees, index, packs written by hand,
# unencrypted: what a bucket writer without the key could put there, and
# what a key holder could) are refused by agentbox restore with one clear
# line, and change nothing: the local state stays byte for byte, nothing
# appears outside it, no staging directory is left. A set-id file and a
# sticky directory come back defused.
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
snapshot() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; tree_listing "$O"; } }
snapshot >"$T/before"
id=20260101T000000Z-000001

put_case() { # case
	python3 "$TOP/tests/state/hostile-v2.py" "$1" "$H/.claude" "$O" "$T/obj-$1" &&
		$S3 put "$1/generations/$id.tree" "$T/obj-$1/tree" &&
		$S3 put "$1/index/$id" "$T/obj-$1/index" &&
		$S3 put "$1/packs/00ff" "$T/obj-$1/pack" &&
		echo "{\"generation\": \"$id\"}" >"$T/latest" && $S3 put "$1/latest" "$T/latest"
}

refused() { # case expected-text
	local case=$1 want=$2 rc
	write_config "$T/c.json" "$H" "$case/"
	$RUN "$BIN/agentbox" -c "$T/c.json" restore >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ne 1 ]; then echo "exit $rc"; cat "$T/err"; return 1; fi
	sed "s/^/  $case: /" "$T/err"
	grep -q -- "$want" "$T/err" || { echo "missing '$want'"; return 1; }
	diff "$T/before" <(snapshot) || return 1
	! ls -a "$H" | grep -q agentbox-restore || { echo "staging left"; return 1; }
}

RUN=
for c in dotdot outside symlink duplicate missing sizes shortpack badhash cut setid; do
	put_case "$c" || fail "building case $c"
done
check "v2: a '..' component refused" refused dotdot "not a clean absolute path"
check "v2: an entry outside the state paths refused" refused outside "outside the state paths"
check "v2: a file through a symlink refused (openat2)" refused symlink "goes through a symlink"
check "v2: a second entry of one name refused" refused duplicate "a second entry of that name"
check "v2: a chunk in no pack refused" refused missing "is in no pack"
check "v2: chunks not adding up to the size refused" refused sizes "hold 5 bytes, the tree says 9"
check "v2: a pack shorter than its index refused" refused shortpack "shorter than its index says"
check "v2: a chunk that does not hash to its id refused" refused badhash "fails authentication"
check "v2: a cut tree refused" refused cut "malformed"

write_config "$T/c.json" "$H" "setid/"
"$BIN/agentbox" -c "$T/c.json" restore >"$T/out" 2>&1 || cat "$T/out"
check "v2: set-id file restored" [ "$(cat "$H/.claude/setid" 2>/dev/null)" = evil ]
check "v2: without its set-id bits" [ "$(stat -c %a "$H/.claude/setid")" = 755 ]
check "v2: a sticky directory keeps its sticky bit" [ "$(stat -c %a "$H/.claude/sticky")" = 1777 ]
check "v2: nothing appeared outside" [ -z "$(ls -A "$O")" ]

# Where openat2() answers ENOSYS (a kernel before 5.6, Docker's seccomp
# profile in a VM container), the restore looks up with O_NOFOLLOW
# openat()s, one component at a time: the same refusals, the same result.
if /usr/bin/python3 -c 'import seccomp' 2>/dev/null; then
	RUN="/usr/bin/python3 $TOP/tests/state/no-openat2.py"  # Debian's python3-seccomp
	rm -rf "$H/.claude" "$H/.claude.json"
	mkdir -p "$H/.claude/sub"
	echo "precious" >"$H/.claude/sub/file"
	echo '{"k": 1}' >"$H/.claude.json"
	snapshot >"$T/before"
	check "no openat2: a '..' component refused" refused dotdot "not a clean absolute path"
	check "no openat2: a file through a symlink refused" refused symlink "goes through a symlink"
	check "no openat2: a second entry of one name refused" refused duplicate "a second entry of that name"
	write_config "$T/c.json" "$H" "setid/"
	$RUN "$BIN/agentbox" -c "$T/c.json" restore >"$T/out" 2>&1 || cat "$T/out"
	check "no openat2: a generation restores" [ "$(cat "$H/.claude/setid" 2>/dev/null)" = evil ]
	check "no openat2: without its set-id bits" [ "$(stat -c %a "$H/.claude/setid")" = 755 ]
	check "no openat2: nothing appeared outside" [ -z "$(ls -A "$O")" ]
else
	skip "no openat2: python3-seccomp is not installed (make deps)"
fi
finish
