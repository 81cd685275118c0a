#!/usr/bin/env bash
# State backup/restore, side by side on the same s3rver (127.0.0.1), on
# 1 GiB of mixed data (a source-like tree of small files plus large files):
#   agentbox backup    vs  tar -I zstd -cf - … | aws s3 cp - s3://…
#   agentbox restore   vs  aws s3 cp s3://… - | tar -I zstd -xf -
# with wall time and peak RSS (GNU time), and the time of a skipped
# (unchanged) backup of a 100,000-file tree. Raw output: bench/out/state.txt.
# Both sides use zstd level 3 and the same credentials; s3rver is used
# directly (the signature-checking proxy would add its own cost).
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${AGENTBOX_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
BIN=$BUILD/bin
OUT=$TOP/bench/out/state.txt
mkdir -p bench/out
T=$(mktemp -d /tmp/agentbox-bench-state.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
for c in node aws zstd /usr/bin/time jq; do
	command -v "$c" >/dev/null || { echo "bench state: needs $c (make deps)"; exit 1; }
done
[ -x tests/state/node_modules/s3rver/bin/s3rver.js ] || { echo "bench state: needs tests/state npm packages (make deps)"; exit 1; }
[ -x "$BIN/agentbox" ] || { echo "bench state: build first (make)"; exit 1; }

port=$((20000 + RANDOM % 30000))
node --openssl-legacy-provider tests/state/node_modules/s3rver/bin/s3rver.js -d "$T/s3" -a 127.0.0.1 \
	-p "$port" --silent --allow-mismatched-signatures --configure-bucket bkt >"$T/s3rver.log" 2>&1 &
pids+=($!)
E=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf -o /dev/null "$E/" && break; sleep 0.1; done
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/creds"
chmod 600 "$T/creds"
export AWS_SHARED_CREDENTIALS_FILE=$T/creds AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1
AWS=(aws --endpoint-url "$E" s3)

H=$T/home/agent
echo "making 1 GiB of mixed data in $H/.claude ..."
python3 - "$H/.claude" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(1)
words = [bytes(rnd.choice(b'abcdefghijklmnopqrstuvwxyz_') for _ in range(rnd.randrange(2, 12))) for _ in range(5000)]
def text(n):
    out, size = [], 0
    while size < n:
        w = rnd.choice(words) + (b'\n' if rnd.random() < 0.1 else b' ')
        out.append(w); size += len(w)
    return b''.join(out)[:n]
chunk = text(4 << 20)
total = 0
for i in range(20000):  # a source tree: 20,000 files, ~24 KiB average
    d = os.path.join(root, 'projects', 'p%d' % (i % 50), 'src%d' % (i % 20))
    os.makedirs(d, exist_ok=True)
    n = rnd.randrange(1, 48 << 10)
    off = rnd.randrange(0, len(chunk) - n)
    with open(os.path.join(d, 'f%d.c' % i), 'wb') as f:
        f.write(chunk[off:off + n])
    total += n
big = 1 << 30
left = big - total
with open(os.path.join(root, 'session-log.jsonl'), 'wb') as f:  # compressible
    n = left // 2
    while n > 0:
        f.write(chunk[:min(n, len(chunk))]); n -= len(chunk)
with open(os.path.join(root, 'model.bin'), 'wb') as f:  # incompressible
    n = left - left // 2
    while n > 0:
        f.write(os.urandom(min(n, 8 << 20))); n -= 8 << 20
PY
echo '{"numStartups": 1}' >"$H/.claude.json"
du -sh "$H/.claude" | tee "$T/du"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$H"},
 "state": {"storage": {"endpoint": "$E", "bucket": "bkt", "path_style": true,
                       "credentials_file": "$T/creds", "prefix": "bench/"}}}
JSON
sync

# timed NAME CMD...: wall seconds, CPU seconds (user+sys, children
# included) and peak RSS of the largest process
timed() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M %U %S" -o "$T/time.$name" "$@" >"$T/out.$name" 2>"$T/err.$name" ||
		{ echo "$name failed:"; cat "$T/err.$name"; exit 1; }
	read -r secs rss usr sys <"$T/time.$name"
	printf '%-38s %7.2f s wall %7.2f s CPU %8.1f MiB peak RSS\n' "$name" "$secs" \
		"$(awk -v u="$usr" -v s="$sys" 'BEGIN { print u + s }')" \
		"$(awk -v r="$rss" 'BEGIN { print r / 1024 }')" | tee -a "$T/summary"
}
: >"$T/summary"
cd "$T"
timed "agentbox backup" "$BIN/agentbox" -c "$T/c.json" backup --force
cat "$T/out.agentbox backup"
timed "tar -I zstd | aws s3 cp -" bash -c "tar -C / -I 'zstd -3 -T1' -cf - '${H#/}/.claude' '${H#/}/.claude.json' | ${AWS[*]} cp - s3://bkt/awscli/state.tar.zst --expected-size 1200000000"
timed "agentbox backup (skipped, unchanged)" "$BIN/agentbox" -c "$T/c.json" backup
rm -rf "$H/.claude" "$H/.claude.json"
timed "agentbox restore" "$BIN/agentbox" -c "$T/c.json" restore
cat "$T/out.agentbox restore"
mkdir -p "$T/x"
timed "aws s3 cp - | tar -I zstd -xf -" bash -c "${AWS[*]} cp s3://bkt/awscli/state.tar.zst - | tar -C '$T/x' -I zstd -xf -"
rm -rf "$T/x"

echo "making 100,000 small files ..."
rm -rf "$H/.claude"
python3 bench/data.py files "$H/.claude" 100000 || exit 1
sed -i 's|"bench/"|"bench100k/"|' "$T/c.json"
"$BIN/agentbox" -c "$T/c.json" backup >/dev/null 2>&1 || { echo "100k backup failed"; exit 1; }
for i in 1 2 3; do timed "skipped backup, 100,000 files #$i" "$BIN/agentbox" -c "$T/c.json" backup; done

{
	echo "# bench/state.sh $(date -u +%FT%TZ) $(nproc) cores; data: $(cut -f1 "$T/du")"
	cat "$T/summary"
} | tee "$OUT"
