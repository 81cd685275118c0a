#!/usr/bin/env bash
# The state of a whole workspace (issue 14) against a real S3 server, Ceph
# RGW with its OSD on bluestore (tests/state/lib-rgw.sh), three clients
# side by side in one run on the same data and the same server:
#   agentbox backup / restore (its CLI, whatever state format it has)
#   tar -I 'zstd -3 -T0' -cf - … | aws s3 cp -   /   aws s3 cp - | tar -x
#   restic backup / restore (S3 backend, same bucket, cache in $T)
# Data (bench/data.py workspace): ~$BENCH_SIZE_MB MiB (default 1024) of a
# workspace: ~/.claude with JSONL transcripts, ~/.claude.json, and ~/work
# with a git clone of this repository, a git project of /usr/include's
# headers (three commits and uncommitted work) and a few large files. The
# state paths are agentbox's defaults; tar and restic get the same three.
# Measured: full backup, restore (checked against the original), a backup
# after 1 MiB of one large file changed (same size, in place), each with
# wall time, client CPU (user+sys, children), peak RSS (GNU time; the
# largest process) and the bytes uploaded (objects new or changed in the
# bucket, listed before and after); then the unchanged-tree check of
# agentbox (and restic's backup of an unchanged tree) on $BENCH_SKIP_FILES
# (default 100,000) small files. The server shares the 2 cores with the
# clients: compare the clients with each other. Table and raw lines:
# bench/out/state-v2.txt.
. "$(dirname "$0")/../tests/lib.sh"
. "$TOP/tests/state/lib-state.sh"
OUT=$TOP/bench/out/state-v2.txt
SIZE_MB=${BENCH_SIZE_MB:-1024}
SKIP_FILES=${BENCH_SKIP_FILES:-100000}
mkdir -p "$TOP/bench/out"
for c in aws restic zstd git /usr/bin/time jq python3; do
	command -v "$c" >/dev/null || { echo "bench state-v2: needs $c (make deps)"; exit 1; }
done
[ -x "$BIN/agentbox" ] || { echo "bench state-v2: build first (make tests)"; exit 1; }
have_rgw || { echo "bench state-v2: needs ceph (make deps)"; exit 1; }

# the OSD's sparse file: room for three full copies and then some
RGW_STORE=bluestore RGW_BLOCK_SIZE=$(((SIZE_MB * 8 / 1024) + 8))G start_s3
echo "RGW ($(radosgw --version | cut -d' ' -f3)) at $S3_ENDPOINT, OSD on bluestore in $RGW_DIR/osd-block"

H=$T/home/agent
mkdir -p "$H"
echo "making ~$SIZE_MB MiB of a workspace in $H ..."
python3 "$TOP/bench/data.py" workspace "$H" "$SIZE_MB" "$TOP" || exit 1
write_config "$T/c.json" "$H" "v2/"
mapfile -t STATE_PATHS < <("$BIN/agentbox" -c "$T/c.json" config | jq -r '.state.paths[]')
data_bytes=$(du -sb --apparent-size "${STATE_PATHS[@]}" | awk '{s += $1} END {print s}')
data_files=$(find "${STATE_PATHS[@]}" | wc -l)
echo "data: $((data_bytes >> 20)) MiB, $data_files entries in ${STATE_PATHS[*]}"
listing() { for p in "${STATE_PATHS[@]}"; do echo "== ${p#"$H"}"; tree_listing "$1$p"; done; }
listing "" >"$T/listing"

export AWS_SHARED_CREDENTIALS_FILE=$CREDS AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=$(sed -n 's/^aws_access_key_id = //p' "$CREDS")
AWS_SECRET_ACCESS_KEY=$(sed -n 's/^aws_secret_access_key = //p' "$CREDS")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY # restic reads only these
export RESTIC_PASSWORD_FILE=$T/restic-pw RESTIC_CACHE_DIR=$T/restic-cache
export RESTIC_REPOSITORY=s3:$S3_ENDPOINT/$BUCKET/restic
head -c 24 /dev/urandom | base64 >"$RESTIC_PASSWORD_FILE"
chmod 600 "$RESTIC_PASSWORD_FILE"
restic init >/dev/null 2>"$T/restic-init.err" || { cat "$T/restic-init.err"; exit 1; }
AWS=(aws --endpoint-url "$S3_ENDPOINT" s3)
REL=("${STATE_PATHS[@]#/}")

# objects PREFIX: "key size etag" of each object under PREFIX, sorted
objects() {
	aws --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 --bucket "$BUCKET" --prefix "$1" \
		--output json | jq -r '.Contents // [] | .[] | "\(.Key) \(.Size) \(.ETag)"' | sort
}
declare -A V # V[tool,metric]
# timed TOOL STEP PREFIX CMD...: wall, CPU, peak RSS and bytes uploaded
# under PREFIX, into V and the raw lines
timed() {
	local tool=$1 step=$2 prefix=$3 secs rss usr sys up
	shift 3
	objects "$prefix" >"$T/before"
	/usr/bin/time -f "%e %M %U %S" -o "$T/time" "$@" >"$T/out" 2>"$T/err" ||
		{ echo "$tool $step failed:"; tail -n 20 "$T/err"; exit 1; }
	objects "$prefix" >"$T/after"
	read -r secs rss usr sys <"$T/time"
	up=$(comm -13 "$T/before" "$T/after" | awk '{s += $2} END {print s + 0}')
	V[$tool,$step,s]=$secs
	V[$tool,$step,cpu]=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
	V[$tool,$step,rss]=$(awk -v r="$rss" 'BEGIN { printf "%.1f", r / 1024 }')
	V[$tool,$step,up]=$up
	printf '%-10s %-12s %8.2f s wall %8.2f s CPU %8.1f MiB peak RSS %12d bytes uploaded\n' "$tool" "$step" \
		"$secs" "${V[$tool,$step,cpu]}" "${V[$tool,$step,rss]}" "$up" | tee -a "$T/raw"
}
# same_tree ROOT [full]: the restored tree (under ROOT) has the original's
# entries, modes, sizes and bytes (full: owners and mtimes in ns too)
same_tree() {
	local cols='{print $1, $2, $5, $7, $8}'
	[ "${2:-}" = full ] && cols='{print}'
	cmp -s <(listing "$1" | awk "$cols") <(awk "$cols" "$T/listing") ||
		echo "RESTORED TREE DIFFERS: $1" | tee -a "$T/raw"
}
stored() { objects "$1" | awk '{s += $2} END {print s + 0}'; }
: >"$T/raw"
sync

echo "-- full backup"
timed agentbox full v2/ "$BIN/agentbox" -c "$T/c.json" backup --force
timed tar+aws full awscli/ bash -c "tar -C / -I 'zstd -3 -T0' -cf - ${REL[*]} |
	${AWS[*]} cp - s3://$BUCKET/awscli/state-1.tar.zst --expected-size $((data_bytes + (64 << 20)))"
timed restic full restic/ restic backup -q "${STATE_PATHS[@]}"
for t in agentbox:v2/ tar+aws:awscli/ restic:restic/; do V[${t%%:*},stored]=$(stored "${t#*:}"); done

echo "-- restore"
mv "$H" "$T/orig" && mkdir -p "$H"
timed agentbox restore v2/ "$BIN/agentbox" -c "$T/c.json" restore
same_tree "" full
rm -rf "$T/x" && mkdir -p "$T/x"
timed tar+aws restore awscli/ bash -c "${AWS[*]} cp s3://$BUCKET/awscli/state-1.tar.zst - |
	tar -C '$T/x' -I zstd -xf -"
same_tree "$T/x"
rm -rf "$T/x" "$T/r"
timed restic restore restic/ restic restore -q latest --target "$T/r"
same_tree "$T/r"
rm -rf "$T/r" "$H" && mv "$T/orig" "$H"

echo "-- 1 MiB changed in one large file"
big=$H/work/data/model.bin
size=$(stat -c %s "$big")
head -c $((1 << 20)) /dev/urandom | dd of="$big" bs=1M seek=$((size / 2 >> 20)) conv=notrunc status=none
timed agentbox change v2/ "$BIN/agentbox" -c "$T/c.json" backup
timed tar+aws change awscli/ bash -c "tar -C / -I 'zstd -3 -T0' -cf - ${REL[*]} |
	${AWS[*]} cp - s3://$BUCKET/awscli/state-2.tar.zst --expected-size $((data_bytes + (64 << 20)))"
timed restic change restic/ restic backup -q "${STATE_PATHS[@]}"

echo "-- unchanged tree of $SKIP_FILES files"
H2=$T/home2
python3 "$TOP/bench/data.py" files "$H2/.claude" "$SKIP_FILES" || exit 1
write_config "$T/c2.json" "$H2" "skip/"
"$BIN/agentbox" -c "$T/c2.json" backup >/dev/null 2>&1 || { echo "backup of $SKIP_FILES files failed"; exit 1; }
restic backup -q "$H2/.claude" >/dev/null 2>&1 || { echo "restic backup of $SKIP_FILES files failed"; exit 1; }
for i in 1 2 3; do timed agentbox "skip#$i" skip/ "$BIN/agentbox" -c "$T/c2.json" backup; done
grep -q "unchanged since generation" "$T/out" || echo "AGENTBOX DID NOT SKIP THE UNCHANGED TREE" | tee -a "$T/raw"
timed restic skip restic/ restic backup -q "$H2/.claude"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f%%", b ? 100 * a / b : 0 }'; }
{
	echo "# bench/state-v2.sh $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
		"RGW $(radosgw --version | cut -d' ' -f3) bluestore; $(aws --version 2>&1 | cut -d' ' -f1);" \
		"$(restic version | cut -d' ' -f1-2); $("$BIN/agentbox" --version 2>/dev/null | head -1)"
	echo "# data: $((data_bytes >> 20)) MiB in $data_files entries (BENCH_SIZE_MB=$SIZE_MB)"
	printf '%-34s %14s %14s %14s\n' "" agentbox "tar+zstd+aws" restic
	row() { # LABEL KEY FORMAT-FUNCTION
		local label=$1 key=$2 f=$3 t out=()
		for t in agentbox tar+aws restic; do out+=("$($f "${V[$t,$key]:-}" "$t")"); done
		printf '%-34s %14s %14s %14s\n' "$label" "${out[@]}"
	}
	raw() { echo "$1"; }
	mibf() { mib "$1"; }
	row "full backup, s" full,s raw
	row "full backup, CPU s" full,cpu raw
	row "full backup, peak RSS MiB" full,rss raw
	row "full backup, MiB uploaded" full,up mibf
	row "stored after it, MiB" stored mibf
	row "restore, s" restore,s raw
	row "restore, CPU s" restore,cpu raw
	row "restore, peak RSS MiB" restore,rss raw
	row "1 MiB changed: backup, s" change,s raw
	row "1 MiB changed: MiB uploaded" change,up mibf
	chg() { pct "${V[$2,change,up]:-0}" "${V[$2,stored]:-0}"; }
	row "1 MiB changed: % of stored" change,up chg
	row "1 MiB changed: peak RSS MiB" change,rss raw
	printf '%-34s %14s %14s %14s\n' "unchanged $SKIP_FILES files, s" \
		"${V[agentbox,skip#1,s]}/${V[agentbox,skip#2,s]}/${V[agentbox,skip#3,s]}" "-" "${V[restic,skip,s]}"
	echo "# raw:"
	cat "$T/raw"
} >"$OUT"
cat "$OUT"
