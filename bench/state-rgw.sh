#!/usr/bin/env bash
# State backup and restore against a real S3 server, Ceph RGW with its OSD on
# bluestore in a sparse file (tests/state/lib-rgw.sh), side by side in one
# run on the same ~640 MiB (a source tree of 12,000 files, 40 JSONL
# transcripts, three 50 MiB random files):
#   agentbox backup   vs  tar -I 'zstd -3 -T1' -cf - … | aws s3 cp - s3://…
#                     vs  restic backup (S3 backend, same bucket)
#   agentbox restore  vs  aws s3 cp s3://… - | tar -I zstd -xf -
#                     vs  restic restore latest
# Wall time, client CPU (user+sys, children included) and peak RSS of the
# largest client process (GNU time). The server shares the 2 cores with the
# client: compare the clients with each other, not with other machines.
# $RUNS rounds (default 2), each tool once per round; $SCALE=0.1 makes a
# tenth of the data (a quick check of the script). Raw output:
# bench/out/state-rgw.txt.
. "$(dirname "$0")/../tests/lib.sh"
. "$TOP/tests/state/lib-state.sh"
OUT=$TOP/bench/out/state-rgw.txt
RUNS=${RUNS:-2}
mkdir -p "$TOP/bench/out"
for c in aws restic zstd /usr/bin/time jq python3; do
	command -v "$c" >/dev/null || { echo "bench state-rgw: needs $c (make deps)"; exit 1; }
done
[ -x "$BIN/agentbox" ] || { echo "bench state-rgw: build first (make tests)"; exit 1; }
have_rgw || { echo "bench state-rgw: needs ceph (make deps)"; exit 1; }

RGW_STORE=bluestore RGW_BLOCK_SIZE=16G start_s3
echo "RGW ($(radosgw --version | cut -d' ' -f3)) at $S3_ENDPOINT, OSD on bluestore in $RGW_DIR/osd-block"

H=$T/home/agent
echo "making the data in $H/.claude ..."
python3 "$TOP/bench/data.py" claude "$H/.claude" "${SCALE:-1}" || exit 1
echo '{"numStartups": 1}' >"$H/.claude.json"
du -sh --apparent-size "$H/.claude" | cut -f1 >"$T/du"
echo "data: $(cat "$T/du"), $(find "$H/.claude" -type f | wc -l) files"
write_config "$T/c.json" "$H" "bench/"
tree_listing "$H/.claude" >"$T/listing"

# the other clients get the same keys and endpoint
export AWS_SHARED_CREDENTIALS_FILE=$CREDS AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=$(sed -n 's/^aws_access_key_id = //p' "$CREDS")
AWS_SECRET_ACCESS_KEY=$(sed -n 's/^aws_secret_access_key = //p' "$CREDS")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY # restic reads only these
export RESTIC_PASSWORD_FILE=$T/restic-pw
head -c 24 /dev/urandom | base64 >"$RESTIC_PASSWORD_FILE"
chmod 600 "$RESTIC_PASSWORD_FILE"
AWS=(aws --endpoint-url "$S3_ENDPOINT" s3)
PATHS=("${H#/}/.claude" "${H#/}/.claude.json")

# timed NAME CMD...: wall s, CPU s (user+sys, children), peak RSS MiB
timed() {
	local name=$1 secs rss usr sys
	shift
	/usr/bin/time -f "%e %M %U %S" -o "$T/time" "$@" >"$T/out" 2>"$T/err" ||
		{ echo "$name failed:"; tail -n 20 "$T/err"; exit 1; }
	read -r secs rss usr sys <"$T/time"
	printf '%-40s %7.2f s wall %7.2f s CPU %8.1f MiB peak RSS\n' "$name" "$secs" \
		"$(awk -v u="$usr" -v s="$sys" 'BEGIN { print u + s }')" \
		"$(awk -v r="$rss" 'BEGIN { print r / 1024 }')" | tee -a "$T/summary"
}
# same_tree DIR [full]: the restored tree has the original's entries, modes,
# sizes and bytes (full: also owners and mtimes in ns; tar keeps seconds)
same_tree() {
	local cols='{print $1, $2, $5, $7, $8}'
	[ "${2:-}" = full ] && cols='{print}'
	cmp -s <(tree_listing "$1" | awk "$cols") <(awk "$cols" "$T/listing") ||
		echo "RESTORED TREE DIFFERS: $1" | tee -a "$T/summary"
}
: >"$T/summary"
for run in $(seq 1 "$RUNS"); do
	echo "-- round $run" | tee -a "$T/summary"
	# a new restic repository each round: a full backup, as the others make
	export RESTIC_REPOSITORY=s3:$S3_ENDPOINT/$BUCKET/restic-$run
	restic init >/dev/null 2>"$T/restic-init.err" || { cat "$T/restic-init.err"; exit 1; }
	sync
	timed "agentbox backup" "$BIN/agentbox" -c "$T/c.json" backup --force
	timed "tar -I zstd | aws s3 cp -" bash -c "tar -C / -I 'zstd -3 -T1' -cf - ${PATHS[*]} |
		${AWS[*]} cp - s3://$BUCKET/awscli/state.tar.zst --expected-size 800000000"
	timed "restic backup" restic backup --no-cache -q "$H/.claude" "$H/.claude.json"
	mv "$H" "$T/orig" && mkdir -p "$H"
	timed "agentbox restore" "$BIN/agentbox" -c "$T/c.json" restore
	same_tree "$H/.claude" full
	rm -rf "$T/x" && mkdir -p "$T/x"
	timed "aws s3 cp - | tar -I zstd -xf -" bash -c "${AWS[*]} cp s3://$BUCKET/awscli/state.tar.zst - |
		tar -C '$T/x' -I zstd -xf -"
	same_tree "$T/x/${H#/}/.claude"
	rm -rf "$T/x" "$T/r"
	timed "restic restore" restic restore --no-cache -q latest --target "$T/r"
	same_tree "$T/r$H/.claude"
	rm -rf "$T/r" "$H" && mv "$T/orig" "$H"
done
{
	echo "# bench/state-rgw.sh $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
		"RGW $(radosgw --version | cut -d' ' -f3) bluestore; data $(cat "$T/du"); $(aws --version 2>&1 | cut -d' ' -f1);" \
		"$(restic version | cut -d' ' -f1-2)"
	cat "$T/summary"
} >"$OUT"
cat "$OUT"
