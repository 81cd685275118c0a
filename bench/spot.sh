#!/usr/bin/env bash
# From an EC2 spot interruption notice to a verified final backup, with
# the state size. agentbox-monitor runs inside a network namespace with the
# fake IMDS (tests/provider/fake.py) and Ceph RGW (bluestore in a sparse
# file, tests/state/lib-rgw.sh); after the monitor is up, the fake starts
# answering spot/instance-action, and the time is taken from that write
# to the "Final backup verified" line (stamped as it arrives).
# The state: $SIZE_MIB (default 1024) of which half random (incompressible)
# and half text-like, in 64 MiB files. $RUNS rounds (default 2), a change
# between rounds so each backup uploads everything changed.
# Writes bench/out/spot.txt.
. "$(dirname "$0")/../tests/lib.sh"
. "$TOP/tests/state/lib-state.sh"
OUT=$TOP/bench/out/spot.txt
RUNS=${RUNS:-2}
SIZE_MIB=${SIZE_MIB:-1024}
mkdir -p "$TOP/bench/out"
[ "$(id -u)" -eq 0 ] || { echo "bench spot: needs root (network namespace)"; exit 1; }
[ -x "$BIN/agentbox-monitor" ] || { echo "bench spot: build first (make tests)"; exit 1; }
have_rgw || { echo "bench spot: needs ceph (make deps)"; exit 1; }

NS=clouds-bench-$$
ip netns add "$NS"
at_exit "ip netns del $NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 169.254.169.254/32 dev lo
echo '{"metadata": "ec2"}' >"$T/sc.json"
ip netns exec "$NS" python3 "$TOP/tests/provider/fake.py" "$T/sc.json" "$T/calls.log" >"$T/fake.out" 2>&1 &
at_exit "kill $!"
wait_for 10 grep -q ready "$T/fake.out"
RGW_STORE=bluestore RGW_BLOCK_SIZE=16G start_rgw 127.0.0.1 "$NS"

mkdir -p "$T/home"
echo "making $SIZE_MIB MiB of state ..."
python3 - "$T/home" "$SIZE_MIB" <<'PY'
import os, random, sys
root, mib = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
text = b" ".join(bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randrange(2, 10)))
                 for _ in range(1 << 20))
text = (text * (1 + (64 << 20) // len(text)))[: 64 << 20]
for i in range(max(1, mib // 64)):
    with open(os.path.join(root, "f%03d.bin" % i), "wb") as f:
        f.write(os.urandom(64 << 20) if i % 2 == 0 else text)
PY
du -sm "$T/home" | cut -f1 >"$T/size"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "1s", "timeout": "1h", "warn_before": "0s",
          "watch_paths": ["$T/home"], "ports": [], "action": "none"},
 "state": {"paths": ["$T/home"], "backup_interval": "1h",
           "storage": {"endpoint": "$S3_ENDPOINT", "bucket": "bkt", "path_style": true,
                       "credentials_file": "$CREDS", "prefix": "ws/"}},
 "provider": {"name": "ec2", "metadata_timeout": "1s", "metadata_retries": 1}}
JSON
: >"$OUT"
for run in $(seq "$RUNS"); do
	echo '{"metadata": "ec2"}' >"$T/sc.json"
	rm -rf "$T/run" "$T/state"
	date +%s%N >>"$T/home/f000.bin" # a change: every round uploads
	ip netns exec "$NS" "$BIN/agentbox-monitor" -c "$T/c.json" 2>&1 |
		while IFS= read -r l; do echo "$(date +%s%N) $l"; done >"$T/mon.log" &
	wait_for 20 grep -q "Watching ec2's interruption notices" "$T/mon.log"
	t0=$(date +%s%N)
	echo '{"metadata": "ec2", "spot_action": {"action": "terminate", "time": "2026-11-30T00:02:00Z"}}' >"$T/sc.json"
	wait_for 300 grep -q 'Final backup verified\|Final backup failed' "$T/mon.log"
	t1=$(grep -m1 'Final backup verified\|Final backup failed' "$T/mon.log" | cut -d' ' -f1)
	seen=$(grep -m1 'Interruption notice' "$T/mon.log" | cut -d' ' -f1)
	verdict=$(grep -m1 -o 'Final backup verified\|Final backup failed' "$T/mon.log")
	line="run $run: $(cat "$T/size") MiB state; notice posted -> seen $(( (seen - t0) / 1000000 )) ms, -> $verdict $(( (t1 - t0) / 1000000 )) ms"
	echo "$line" | tee -a "$OUT"
	grep -m1 'Backed up\|Final backup' "$T/mon.log" | cut -d' ' -f2- >>"$OUT"
	pkill_pid=$(pgrep -f "agentbox-monitor -c $T/c.json")
	[ -n "$pkill_pid" ] && kill $pkill_pid
	wait_for 10 sh -c "! pgrep -f 'agentbox-monitor -c $T/c.json' >/dev/null"
done
echo "written to $OUT"
