#!/usr/bin/env bash
# agentbox backup / restore round trip against the test's S3 server (RGW,
# which checks signatures and conditions): ~10,000 files, odd names,
# symlinks, empty dirs, modes, owners and mtimes, a sparse and a large file
# (256 MiB; 32 MiB in the sanitizer build, to keep its time), skipped
# unchanged backups, older generations, excludes, retention; repeated:
# backup, change, backup, restore, backup, restore, byte for byte each time.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_root
start_s3

large=256
case $BUILD in *-san) large=32 ;; esac
H=$T/home/agent
mkdir -p "$H"
python3 "$TOP/tests/state/make-tree.py" "$H/.claude" 10000 "$large" 128 || { fail "make-tree"; finish; }
echo '{"numStartups": 3}' >"$H/.claude.json"
mkfifo "$H/.claude/a-fifo"
write_config "$T/c.json" "$H" "ws1/" '"exclude": ["*.tmp", "'"$H"'/.claude/cache"]'
AB() { "$BIN/agentbox" -c "$T/c.json" "$@"; }
listing() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; } | grep -v a-fifo; }
# what a restore gives back: make-tree.py's file of uid 1234 belongs to the
# workspace user then (no user "agent" here: the owner of its home, root)
restored() { sed "/b'-dash'\$/s/ 1234 2345 / 0 0 /" "$1"; }

AB backup >"$T/out" 2>"$T/err"
check "first backup succeeds" [ $? -eq 0 ]
check "backup prints generation, size and speed" grep -qE '^generation [0-9]{8}T[0-9]{6}Z-000001: [0-9]+ files, .* stored as .* in .* MiB/s' "$T/out"
check "fifo skipped with a log line" grep -q "a-fifo: a fifo is not backed up" "$T/err"
gen1=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/out")
listing >"$T/l1"

AB backup >"$T/out" 2>&1
check "unchanged tree: backup skipped and says so" grep -q "unchanged since generation $gen1; backup skipped" "$T/out"

# change things, and add what must be excluded
rm "$H/.claude/projects/p1/d1/f1.jsonl"
echo new >"$H/.claude/added file"
echo '{"numStartups": 4}' >"$H/.claude.json"
echo junk >"$H/.claude/x.tmp"
mkdir -p "$H/.claude/cache" && echo junk >"$H/.claude/cache/c"
AB backup >"$T/out" 2>&1
check "changed tree: second generation" grep -q -- "-000002: " "$T/out"
gen2=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/out")
listing | grep -v -e "b'x.tmp'" -e "b'cache" >"$T/l2"

AB restore --list >"$T/out" 2>&1
check "--list shows both generations, the latest marked" \
	bash -c "grep -q '^$gen1 ' '$T/out' && grep -q '^$gen2 .*(latest)' '$T/out'"

rm -rf "$H/.claude" "$H/.claude.json"
AB restore >"$T/out" 2>&1
check "restore of the latest succeeds" grep -q "restored generation $gen2" "$T/out"
listing >"$T/r2"
check "restored tree identical: content, modes, owners, mtimes, symlinks, odd names" diff <(restored "$T/l2") "$T/r2"
check "another user's file comes back as the workspace user's" grep -q "^[0-9]* 0o644 0 0 .*b'-dash'\$" "$T/r2"
check "excluded paths were not stored" bash -c "! [ -e '$H/.claude/x.tmp' ] && ! [ -e '$H/.claude/cache' ]"
check "sparse file restored sparse" [ "$(du -k "$H/.claude/sparse" | cut -f1)" -lt 1024 ]
check "no staging directory left" bash -c "! ls -a '$H' | grep -q agentbox-restore"

echo "local change" >>"$H/.claude/added file"
AB restore --generation "$gen1" >"$T/out" 2>&1
check "restore of an older generation" grep -q "restored generation $gen1" "$T/out"
listing >"$T/r1"
check "older generation identical to the tree it was taken from" diff <(restored "$T/l1") "$T/r1"
AB restore --generation 20000101T000000Z-000099 >"$T/out" 2>&1
check "unknown generation refused" [ $? -eq 1 ]

# again and again on the same lease: change, backup, restore, each
# restore identical to what was backed up (the lease is renewed each time)
for round in 1 2 3; do
	echo "round $round" >"$H/.claude/projects/p1/round"
	head -c $((round * 100000)) /dev/urandom >"$H/.claude/projects/p1/blob"
	touch -d "2020-01-0$round 12:00" "$H/.claude/projects/p1/round"
	AB backup >"$T/out" 2>&1
	check "round $round: backup" grep -q "^generation " "$T/out"
	listing | grep -v -e "b'x.tmp'" -e "b'cache" >"$T/lr$round"
	echo "lost" >"$H/.claude/projects/p1/round"
	rm -f "$H/.claude/projects/p1/blob"
	AB restore >"$T/out" 2>&1
	check "round $round: restore" grep -q "restored generation" "$T/out"
	listing | grep -v -e "b'x.tmp'" -e "b'cache" >"$T/rr$round"
	check "round $round: restored tree identical, byte for byte" diff "$T/lr$round" "$T/rr$round"
done

# retention: keep 2
write_config "$T/c.json" "$H" "ws1/" '"keep": 2'
for i in 1 2 3; do echo "$i" >"$H/.claude/rot"; AB backup >/dev/null 2>&1 || fail "backup $i"; done
check "retention keeps state.keep generations" [ "$($S3 list ws1/generations/ | grep -c '\.tree$')" = 2 ]
check "retention left no generation of the old layout" [ "$($S3 list ws1/generations/ | grep -c -e '\.json$' -e '\.tar\.zst$')" = 0 ]
check "retention merged the index into one object" [ "$($S3 list ws1/index/ | grep -c .)" = 1 ]

# a same-size rewrite with the old mtime put back is still a change
AB backup >"$T/out" 2>&1
check "nothing changed since: skipped" grep -q "backup skipped" "$T/out"
touch -r "$H/.claude/rot" "$T/rot.ref"
echo 9 >"$H/.claude/rot"
touch -r "$T/rot.ref" "$H/.claude/rot"
AB backup >"$T/out" 2>&1
check "same size, mtime put back: backed up, not skipped" grep -q "^generation " "$T/out"

# no storage configured: a valid config, and backup says so
echo "{\"workspace\": {\"home\": \"$H\"}}" >"$T/none.json"
"$BIN/agentbox" -c "$T/none.json" backup >/dev/null 2>"$T/err"
check "no storage: backup fails with exit 1" [ $? -eq 1 ]
check "no storage: says so" grep -q "no state storage configured" "$T/err"
"$BIN/agentbox" -c "$T/none.json" config >/dev/null
check "no storage: config is valid" [ $? -eq 0 ]
finish
