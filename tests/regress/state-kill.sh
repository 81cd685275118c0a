#!/usr/bin/env bash
# A backup killed with SIGKILL at any point (during the packs, before the
# index, the tree or "latest") never costs the previous generation: it still
# restores byte-for-byte, the half-written generation is never trusted, and
# the next backup succeeds and clears the leftovers (s3rver: its proxy holds
# the request to kill at). Then, on RGW: a file growing during the backup
# fails it, two backups at once take turns.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_root
start_s3rver

H=$T/home/agent
mkdir -p "$H/.claude/projects"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$H/.claude/projects/big"
for i in $(seq 1 200); do echo "line $i" >"$H/.claude/projects/s$i.jsonl"; done
echo '{"v": 1}' >"$H/.claude.json"
write_config "$T/c.json" "$H" "k/"
AB() { "$BIN/agentbox" -c "$T/c.json" "$@"; }
listing() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; }; }

AB backup >"$T/out" 2>&1 || { fail "first backup"; cat "$T/out"; finish; }
gen1=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/out")
listing >"$T/l1"

injected_more_than() { [ "$(proxy_stat injected)" -gt "$1" ]; }

# kill_at NAME REGEX: a backup of a changed tree, killed while the proxy
# holds the first request matching REGEX; then the previous state restores.
kill_at() {
	local name=$1 re=$2 injected pid
	echo "change $name" >>"$H/.claude/projects/s1.jsonl"
	head -c 1000 /dev/urandom >>"$H/.claude/projects/big"
	injected=$(proxy_stat injected)
	fault "$re" hold 1
	# the binary itself in the background, so that $! is its pid
	"$BIN/agentbox" -c "$T/c.json" backup >"$T/kout" 2>&1 &
	pid=$!
	if ! wait_for 60 injected_more_than "$injected"; then
		fail "$name: the backup never reached the point"; kill -9 $pid; return
	fi
	kill -9 $pid
	wait $pid 2>/dev/null
	check "killed $name: the backup is gone" not kill -0 $pid 2>/dev/null
	faults_clear
	AB restore >"$T/rout" 2>&1
	check "killed $name: previous generation still restores" grep -q "restored generation $gen1" "$T/rout"
	listing >"$T/lk"
	check "killed $name: restored byte-for-byte" diff "$T/l1" "$T/lk"
}
kill_at "during the packs" '^PUT .*/packs/'
kill_at "before the index" '^PUT .*/index/'
kill_at "before the tree" '^PUT .*/generations/.*\.tree$'
kill_at "before latest" '^PUT .*/latest$'

AB restore --list >"$T/out" 2>&1
cat "$T/out"
check "latest still names the first generation" grep -q "^$gen1 .*(latest)" "$T/out"
echo "after" >>"$H/.claude/projects/s2.jsonl"
AB backup >"$T/out" 2>&1
check "the next backup succeeds" grep -q "^generation " "$T/out"
$S3 list k/generations/ >"$T/keys"
check "the new generation reads back whole (verify)" AB restore --verify
# The rest needs no fault proxy: on RGW (where ceph is installed), from a
# first backup there.
if have_rgw; then
	start_rgw
	write_config "$T/c.json" "$H" "k/"
	AB backup >"$T/out" 2>&1 || { fail "first backup on RGW"; cat "$T/out"; finish; }
else
	skip "torn file and concurrent backups on RGW: needs ceph; on s3rver"
fi

# a file that keeps growing while it is read is never stored torn: the
# backup retries, then fails naming it, and latest does not move
head -c $((12 * 1024 * 1024)) /dev/urandom >"$H/.claude/projects/growing"
latest_before=$($S3 get k/latest)
python3 -c '
import sys, time
end = time.time() + 30
with open(sys.argv[1], "ab", buffering=0) as f:
    while time.time() < end:
        f.write(b"more\n")
        time.sleep(0.001)
' "$H/.claude/projects/growing" &
writer=$!
at_exit "kill $writer"
grown() { [ "$(stat -c %s "$H/.claude/projects/growing")" -gt $((12 * 1024 * 1024)) ]; }
wait_for 10 grown || fail "the writer did not start"
"$BIN/agentbox" -c "$T/c.json" backup >"$T/torn" 2>&1
rc=$?
kill $writer 2>/dev/null
wait $writer 2>/dev/null
check "a file growing during the backup fails it" [ $rc -eq 1 ]
check "the failure names the file" grep -q "projects/growing changed while it was archived" "$T/torn"
check "latest did not move" [ "$($S3 get k/latest)" = "$latest_before" ]
check "the quiet file is backed up next time" "$BIN/agentbox" -c "$T/c.json" backup

# two backups at once on one machine take turns (flock in runtime_dir)
echo "both" >>"$H/.claude/projects/s3.jsonl"
"$BIN/agentbox" -c "$T/c.json" backup --force >"$T/b1" 2>&1 &
p1=$!
"$BIN/agentbox" -c "$T/c.json" backup --force >"$T/b2" 2>&1
wait $p1
check "concurrent backups both succeed, one after the other" \
	bash -c "grep -q '^generation ' '$T/b1' && grep -q '^generation ' '$T/b2'"
$S3 list k/generations/ | sed -n 's|.*/\([^/]*\)\.tree$|\1|p' | sed 's/.*-//' | sort | uniq -d >"$T/dups"
check "no two generations share a sequence number" [ ! -s "$T/dups" ]
finish
