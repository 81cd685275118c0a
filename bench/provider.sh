#!/usr/bin/env bash
# From idle confirmed to the delete request sent, with and without the
# final backup. agentbox-monitor runs inside a network namespace with the
# fake Hetzner metadata service and API (tests/provider/fake.py) and
# s3rver behind the SigV4 checker (tests/state); each stderr line is
# stamped when it arrives, and the fake stamps the DELETE it receives.
#   idle   = "Idle: every signal quiet" line
#   backup = the final backup's own time ("Final backup verified ... (took)")
#   total  = DELETE at the fake - idle
# Writes bench/out/provider.txt.
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
BIN=$TOP/build/bin
OUT=$TOP/bench/out/provider.txt
RUNS=${RUNS:-5}
STATE_NODE=$TOP/tests/state/node_modules
[ "$(id -u)" -eq 0 ] || { echo "bench/provider.sh: needs root (network namespace)"; exit 1; }
[ -x "$STATE_NODE/.bin/s3rver" ] || { echo "bench/provider.sh: needs make deps (tests/state)"; exit 1; }
mkdir -p bench/out
T=$(mktemp -d /tmp/agentbox-bench-provider.XXXXXX)
NS=abx-bench$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 169.254.169.254/32 dev lo
echo '{"metadata": "hetzner", "hetzner_id": "4242"}' >"$T/sc.json"
ip netns exec "$NS" python3 tests/provider/fake.py "$T/sc.json" "$T/calls.log" >"$T/fake.out" 2>&1 &
pids+=($!)
mkdir -p "$T/s3data"
ip netns exec "$NS" node --openssl-legacy-provider "$STATE_NODE/s3rver/bin/s3rver.js" -d "$T/s3data" \
	-a 127.0.0.1 -p 9000 --silent --allow-mismatched-signatures --configure-bucket bkt >/dev/null 2>&1 &
pids+=($!)
ip netns exec "$NS" node tests/state/sigv4-proxy.js 9001 9000 S3RVER S3RVER >"$T/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$T/proxy.log" && grep -q ready "$T/fake.out" && break; sleep 0.1; done
for _ in $(seq 100); do ip netns exec "$NS" curl -sf -o /dev/null http://127.0.0.1:9000/ && break; sleep 0.1; done
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/s3creds"
printf 'test-token\n' >"$T/token"
chmod 600 "$T/s3creds" "$T/token"

# The workspace: 2,000 small files and one of 32 MiB (incompressible).
H=$T/home
python3 - "$H" <<'PY'
import os, sys
h = sys.argv[1]
for d in range(20):
    os.makedirs(f"{h}/.claude/projects/p{d}", exist_ok=True)
    for f in range(100):
        with open(f"{h}/.claude/projects/p{d}/s{f}.jsonl", "w") as fh:
            fh.write(('{"role": "assistant", "text": "%d-%d"}\n' % (d, f)) * 40)
with open(f"{h}/.claude/big.bin", "wb") as fh:
    fh.write(os.urandom(32 << 20))
PY

# run KIND: one monitor run; prints "idle_to_delete backup overhead" in ms.
run() {
	local extra=$1
	cat >"$T/c.json" <<JSON
{"workspace": {"home": "$H"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "1s", "timeout": "2s", "warn_before": "1s",
          "watch_paths": ["$H"], "ports": [], "action": "delete" $extra},
 "state": {"paths": ["$H"], "storage": {"endpoint": "http://127.0.0.1:9001", "bucket": "bkt",
           "path_style": true, "credentials_file": "$T/s3creds", "prefix": "ws/"}},
 "provider": {"hetzner": {"api_url": "http://127.0.0.1:8080/v1", "token_file": "$T/token"}}}
JSON
	: >"$T/calls.log"
	rm -rf "$T/run" "$T/state"
	echo "change $RANDOM" >>"$H/.claude/projects/p0/s0.jsonl"
	ip netns exec "$NS" "$BIN/agentbox-monitor" -c "$T/c.json" 2>&1 |
		python3 -u -c 'import sys, time
for l in sys.stdin: print("%.6f %s" % (time.time(), l), end="", flush=True)' >"$T/mon.log" &
	local mon=$!
	for _ in $(seq 600); do grep -q '"DELETE"' "$T/calls.log" && break; sleep 0.1; done
	sleep 0.2
	pkill -f "agentbox-monitor -c $T/c.json"
	wait $mon 2>/dev/null
	python3 - "$T/mon.log" "$T/calls.log" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
def at(text):
    for l in lines:
        if text in l:
            return float(l.split(" ", 1)[0])
    return None
import re
idle = at("Idle: every signal quiet")
dele = [json.loads(l)["time"] for l in open(sys.argv[2]) if '"DELETE"' in l]
if idle is None or not dele:
    print("failed"); sys.exit(0)
total = (dele[0] - idle) * 1000
# the backup's own duration, as the monitor measured it around state_backup()
backup = 0.0
for l in lines:
    m = re.search(r"Final backup verified: generation \S+ \(([^)]*)\)", l)
    if m:
        unit = {"h": 3600e3, "m": 60e3, "s": 1e3, "ms": 1.0}
        backup = sum(float(n) * unit[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)\b", m.group(1)))
print("%.0f %.0f %.0f" % (total, backup, total - backup))
PY
}

{
	echo "# bench/provider.sh $(date -u +%FT%TZ) $(nproc) cores; idle.interval 1s"
	echo "# kind total_ms backup_ms overhead_ms   (overhead = total - backup)"
	for i in $(seq "$RUNS"); do echo "with-backup $(run '')"; done
	for i in $(seq "$RUNS"); do echo "no-backup $(run ', "delete_without_backup": true')"; done
} | tee "$OUT"
