#!/usr/bin/env bash
# make demo: agentbox-monitor at work on this machine, against real files,
# processes, sockets and ptys, with a 20 s idle timeout so the whole story
# fits in a minute. Everything it starts is stopped at the end.
set -u
AGENTBOX_BUILD=${AGENTBOX_BUILD:-build}
. "$(dirname "$0")/lib.sh"
D=$T
pids=()
at_exit 'kill "${pids[@]}"; wait'
pass() { :; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { "$BIN/agentbox" -c "$D/agentbox.json" status; }

mkdir -p "$D/home/project" "$D/home/.claude/projects/-home-agent-project"
echo '{"sessionId": "demo"}' >"$D/home/.claude/projects/-home-agent-project/demo.jsonl"
echo '{"theme": "dark"}' >"$D/home/.claude.json"
port=$((20000 + RANDOM % 20000))
say "Object storage for the state: Ceph RGW on 127.0.0.1 (s3rver where ceph is missing)"
. "$TOP/tests/state/lib-state.sh"
start_s3
echo "$S3_BACKEND at $S3_ENDPOINT, bucket $BUCKET"
cat >"$D/agentbox.json" <<JSON
{
  "workspace": {"home": "$D/home"},
  "runtime_dir": "$D/run",
  "state_dir": "$D/state",
  "idle": {"timeout": "20s", "warn_before": "8s", "boot_grace": "0s",
           "interval": "1s", "action": "none", "ports": [$port],
           "exclude_paths": ["$D/home/.cache"]},
  "state": {"backup_interval": "5s",
            "paths": ["$D/home/.claude", "$D/home/.claude.json"],
            "storage": {"endpoint": "$S3_ENDPOINT", "bucket": "$BUCKET", "path_style": true,
                        "credentials_file": "$CREDS", "prefix": "demo/"}}
}
JSON
say "The config (every key is documented in docs/configuration.md)"
cat "$D/agentbox.json"

say "Starting agentbox-monitor (the journal lines go to $D/monitor.log)"
AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$D/agentbox.json" 2>"$D/monitor.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$D/run/status.json" ] && break; sleep 0.1; done
show

say "A write under the watched home counts; one under an excluded path does not"
echo "int main(void) { return 0; }" >"$D/home/project/main.c"
mkdir -p "$D/home/.cache" && echo x >"$D/home/.cache/ignored"
sleep 2; show

say "An agent named 'claude' sitting at its prompt (sleeping) is not activity; a busy one is"
mkdir -p "$D/bin" "$D/idle"
ln -s "$(command -v sleep)" "$D/idle/claude"
ln -s "$(command -v bash)" "$D/bin/claude"
"$D/idle/claude" 300 & pids+=($!)
sleep 2; show
timeout 3 "$D/bin/claude" -c 'while :; do :; done' & pids+=($!)
sleep 2.5; show

say "A terminal in use (output on a pty) is activity"
script -qfc "echo compiling...; sleep 1; echo done" /dev/null >/dev/null
sleep 1.5; show

say "A TCP connection on a watched port counts only while bytes move"
python3 - "$port" <<'PY' &
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(1)
cli = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); conn, _ = srv.accept()
for _ in range(20): cli.send(b"x" * 1000); conn.recv(4096); time.sleep(0.5)
time.sleep(60)  # open but silent from here on
PY
pids+=($!)
sleep 9; show

say "Now nothing happens: warning, then idle (the silent connection and the sleeping agent do not hold it)"
for _ in $(seq 40); do
	st=$("$BIN/agentbox" -c "$D/agentbox.json" status --json | jq -r .state)
	[ "$st" = idle ] && break
	sleep 1
done
show

say "agentbox keepalive holds the box"
"$BIN/agentbox" -c "$D/agentbox.json" keepalive 1h --reason "demo: long build"
sleep 1.5; show

say "The state store: the monitor's periodic backups, then a manual one and a restore"
"$BIN/agentbox" -c "$D/agentbox.json" keepalive --clear >/dev/null
first=$("$BIN/agentbox" -c "$D/agentbox.json" status --json | jq -r .backup.generation)
echo "-- an agent writes to its session; the next periodic backup takes it"
echo "more work" >>"$D/home/.claude/projects/-home-agent-project/demo.jsonl"
for _ in $(seq 30); do
	[ "$("$BIN/agentbox" -c "$D/agentbox.json" status --json | jq -r .backup.generation)" != "$first" ] && break
	sleep 1
done
"$BIN/agentbox" -c "$D/agentbox.json" status | grep 'last backup'
echo "-- agentbox backup (now); nothing changed, so it is skipped cheaply:"
"$BIN/agentbox" -c "$D/agentbox.json" backup
"$BIN/agentbox" -c "$D/agentbox.json" restore --list
echo "-- the session file is lost locally, and restored:"
rm -rf "$D/home/.claude"
ls "$D/home/.claude" 2>&1
"$BIN/agentbox" -c "$D/agentbox.json" restore
cat "$D/home/.claude/projects/-home-agent-project/demo.jsonl"

say "What the monitor logged (each event has a fixed MESSAGE_ID; see docs/journal.md)"
cat "$D/monitor.log"
