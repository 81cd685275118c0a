#!/usr/bin/env bash
# timeout: 900
# Soak: agentbox-monitor at 1 s ticks for SOAK_SECONDS (60 here; make soak:
# 300, or SOAK_SECONDS=N) under file, process and socket churn with
# periodic backups to the test's S3 server (RGW), sampled each second by
# tests/soak/driver.py. Asserts: no missed activity (each event shows in
# its signal's last_active within 3 s), no false idle (always "active"
# under the churn), the box still goes idle once the churn stops, the
# monitor's RSS and open fds flat after the warm-up, no child left a zombie,
# backups made and none failed. SOAK_OUT=DIR keeps soak.csv and soak.png
# (gnuplot) there (make soak: docs/img).
. "$(dirname "$0")/../lib.sh"
private_pidns "$@"
need_cmd jq
need_cmd python3
. "$TOP/tests/state/lib-state.sh"
start_s3

SECONDS_RUN=${SOAK_SECONDS:-60}
TIMEOUT=10
# Warm-up: the heap and the processes/sockets tables settle, the first
# backups run. Growth is measured after it.
WARMUP=$((SECONDS_RUN / 5 > 20 ? SECONDS_RUN / 5 : 20))
# After the warm-up the monitor's RSS may grow by at most this much (KiB):
# a leak of one small allocation per tick (>= 64 bytes) exceeds it within
# an hour's soak, and a few KiB of heap settling does not.
RSS_SLACK_KIB=${SOAK_RSS_SLACK_KIB:-256}

mkdir -p "$T/home/work" "$T/home/.claude" "$T/bin"
ln -s "$BUILD/tests/helpers/spin" "$T/bin/claude"
PORT=$(free_port) QUIET_PORT=$(free_port)
while [ "$QUIET_PORT" = "$PORT" ]; do QUIET_PORT=$(free_port); done
# the watched port's listener: accepts and drains, bounded by the soak's length
python3 - "$PORT" "$((SECONDS_RUN + 60))" <<'PY' &
import select, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
conns, end = [s], time.time() + int(sys.argv[2])
while time.time() < end:
    r, _, _ = select.select(conns, [], [], 0.5)
    for c in r:
        if c is s:
            conns.append(s.accept()[0])
        elif not c.recv(65536):
            conns.remove(c)
            c.close()
PY
listener=$!
at_exit "kill $listener"
wait_for 5 sh -c "ss -Hltn 'sport = :$PORT' | grep -q ." || { fail "listener did not start"; finish; }

echo "session" >"$T/home/.claude/s.jsonl"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "1s", "timeout": "${TIMEOUT}s", "warn_before": "3s",
          "action": "none", "wall": false, "watch_paths": ["$T/home"], "ports": [$PORT]},
 "state": {"backup_interval": "5s", "paths": ["$T/home/.claude"], "keep": 3,
           "storage": {"endpoint": "$S3_ENDPOINT", "bucket": "$BUCKET", "path_style": true,
                       "credentials_file": "$CREDS", "prefix": "soak/"}}}
JSON

AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/monitor.log" &
mon=$!
at_exit "kill $mon"
check "monitor up" wait_for 10 test -s "$T/run/status.json" || finish

echo "soak: ${SECONDS_RUN}s at 1 s ticks, warm-up ${WARMUP}s, backups every 5s to $S3_BACKEND"
python3 "$TOP/tests/soak/driver.py" "$mon" "$T/run/status.json" "$T/home/work" \
	"$T/home/.claude/s.jsonl" "$T/bin/claude" "$PORT" "$QUIET_PORT" "$SECONDS_RUN" "$TIMEOUT" \
	"$T/soak.csv" >"$T/summary" 2>&1
cat "$T/summary"
val() { sed -n "s/^$1=//p" "$T/summary"; }

check "the soak ran its length ($(val SECONDS) s)" [ "$(val SECONDS)" = "$SECONDS_RUN" ]
check "activity events checked ($(val CHECKED))" [ "$(val CHECKED)" -gt $((SECONDS_RUN)) ]
check "no missed activity ($(val MISSED) missed)" [ "$(val MISSED)" = 0 ]
check "no false idle under churn ($(val FALSE_IDLE) samples not active)" [ "$(val FALSE_IDLE)" = 0 ]
check "quiet afterwards: idle within ${TIMEOUT}s + 8s ($(val IDLE_AFTER) s)" \
	awk -v a="$(val IDLE_AFTER)" 'BEGIN { exit !(a >= 0) }'
check "periodic backups made ($(val BACKUPS_OK))" [ "$(val BACKUPS_OK)" -ge $((SECONDS_RUN / 15)) ]
check "no backup failed ($(val BACKUP_FAILURES))" [ "$(val BACKUP_FAILURES)" = 0 ]
check "no child left a zombie for more than 2 s ($(val ZOMBIE_MAX_SECONDS))" [ "$(val ZOMBIE_MAX_SECONDS)" -le 2 ]
check "monitor still running" kill -0 $mon

# Flat: RSS after the warm-up within RSS_SLACK_KIB of its value at the
# warm-up's end; the base of open fds (without the /proc/PID/stat of the
# processes followed and the pipes of running children, and only those
# open in two samples in a row: driver.py) the same throughout after the
# warm-up.
read -r rss_w rss_max rss_end fds_min fds_max kids_max <<<"$(awk -F, -v w="$WARMUP" '
	NR == 1 || $3 == 0 { next }
	$1 == w { rw = $3 }
	$1 >= w { if ($3 > rmax) rmax = $3; rend = $3
		if (fmin == "" || $13 < fmin) fmin = $13; if ($13 > fmax) fmax = $13 }
	{ if ($5 > kmax) kmax = $5 }
	END { print rw + 0, rmax + 0, rend + 0, fmin + 0, fmax + 0, kmax + 0 }' "$T/soak.csv")"
echo "monitor VmRSS KiB: at warm-up end $rss_w, max after $rss_max, at end $rss_end; base fds $fds_min..$fds_max; children at most $kids_max"
if ldd "$BIN/agentbox-monitor" | grep -q libasan; then
	# ASan keeps freed memory in quarantine (up to 256 MB): RSS grows without a leak.
	skip "RSS flat: not measured under ASan (its quarantine grows RSS); LeakSanitizer checks leaks at exit"
else
	check "RSS flat after warm-up (+$((rss_max - rss_w)) KiB <= $RSS_SLACK_KIB)" \
		test "$rss_w" -gt 0 -a $((rss_max - rss_w)) -le "$RSS_SLACK_KIB"
fi
check "open fds flat after warm-up (base $fds_min..$fds_max)" test "$fds_min" -gt 0 -a "$fds_min" = "$fds_max"
# A process's stat file is closed by the next scan after its end
# (monitor-proc.c): scans come every discovery period (here 1 s, the
# interval), which tick jitter can stretch to two ticks: 3 samples at most.
check "no fd left on a process gone for more than 3 s ($(val STALE_FD_MAX_SECONDS))" [ "$(val STALE_FD_MAX_SECONDS)" -le 3 ]

kill -TERM $mon
check "stops within 2 s after the soak" wait_for 2 sh -c "! kill -0 $mon"
check "journal: no error lines" sh -c "! grep -E '^<[0-3]>|PRIORITY=[0-3]' '$T/monitor.log'"

if [ -n "${SOAK_OUT:-}" ]; then
	mkdir -p "$SOAK_OUT"
	cp "$T/soak.csv" "$SOAK_OUT/soak.csv"
	if command -v gnuplot >/dev/null; then
		gnuplot -e "csv='$SOAK_OUT/soak.csv'; png='$SOAK_OUT/soak.png'; warmup=$WARMUP" \
			"$TOP/tests/soak/soak.gp" && echo "plot: $SOAK_OUT/soak.png"
	else
		skip "plot: gnuplot not installed (make deps)"
	fi
fi
finish
