#!/usr/bin/env bash
# The monitor's periodic backups against the test's S3 server (RGW): the
# first one at state.backup_interval, none while nothing was written, a new
# generation after a write; status.json and agentbox status say so; a
# failing store (RGW: the user suspended; s3rver: the proxy's 500s) is
# retried and shown.
. "$(dirname "$0")/../lib.sh"
private_pidns "$@"
need_cmd jq
. "$TOP/tests/state/lib-state.sh"
start_s3

mkdir -p "$T/home/.claude/projects"
echo '{"theme": "dark"}' >"$T/home/.claude.json"
echo "session" >"$T/home/.claude/projects/s1.jsonl"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "200ms", "timeout": "1h", "warn_before": "1m",
          "action": "none", "ports": []},
 "state": {"backup_interval": "1s", "paths": ["$T/home/.claude", "$T/home/.claude.json"],
           "storage": {"endpoint": "$S3_ENDPOINT", "bucket": "$BUCKET", "path_style": true,
                       "credentials_file": "$CREDS", "prefix": "mb/"}}}
JSON
status() { "$BIN/agentbox" -c "$T/c.json" status --json 2>/dev/null; }
field() { status | jq -r "$1"; }
gens() { "$BIN/agentbox" -c "$T/c.json" restore --list 2>/dev/null | grep -c '^[0-9]'; }

AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/monitor.log" &
mon=$!
at_exit "kill $mon"
check "first periodic backup made" wait_for 20 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .backup.last_ok)\" = true ]"
first=$(field .backup.generation)
check "status names the generation" [ -n "$first" ] && [ "$first" != null ]
check "one generation in the bucket" [ "$(gens)" -eq 1 ]
check "backup done journaled (MESSAGE_ID)" grep -q 'MESSAGE_ID=77f6faadb712487d9e8eb8337b4117f6' "$T/monitor.log"
check "agentbox status shows the last backup" sh -c "$BIN/agentbox -c $T/c.json status | grep -q \"last backup:.*generation $first\""
check "status.json: the size kept (entries, bytes of data, bytes stored)" \
	[ "$(status | jq -r '[.backup.files, .backup.bytes, (.backup.stored_bytes > 26)] | map(tostring) | join(" ")')" = "4 26 true" ]
check "agentbox status shows the size kept" sh -c "$BIN/agentbox -c $T/c.json status | grep -qE '^kept: +4 files, 26 B of data, stored as [0-9.]+ (B|KiB)\$'"
sleep 3
check "nothing written: no new backup" [ "$(gens)" -eq 1 ]
echo "more" >>"$T/home/.claude/projects/s1.jsonl"
check "a write: a new generation" wait_for 20 sh -c "[ \$($BIN/agentbox -c $T/c.json restore --list 2>/dev/null | grep -c '^[0-9]') -eq 2 ]"
check "status follows" wait_for 10 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .backup.generation)\" != '$first' ]"

# the store refuses: the failure is shown and retried, the monitor goes on
store_fails() { if [ "$S3_BACKEND" = rgw ]; then rgw_admin user suspend --uid agentbox; else fault 'PUT' 500 1000; fi; }
store_works() { if [ "$S3_BACKEND" = rgw ]; then rgw_admin user enable --uid agentbox; else faults_clear; fi; }
store_fails >/dev/null 2>&1 || fail "cannot make the store fail"
echo "again" >>"$T/home/.claude/projects/s1.jsonl"
check "a failing store shows in status" wait_for 60 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .backup.last_ok)\" = false ]"
check "the error is named" sh -c "$BIN/agentbox -c $T/c.json status | grep -q 'last backup:.*FAILED'"
check "monitor still running" kill -0 $mon
store_works >/dev/null 2>&1 || fail "cannot make the store work again"
check "retried once the store works" wait_for 30 sh -c "[ \"\$($BIN/agentbox -c $T/c.json status --json | jq -r .backup.last_ok)\" = true ]"

# SIGTERM while a backup may run: stops within 2 s, no child left behind
echo "last" >>"$T/home/.claude/projects/s1.jsonl"
sleep 1.2
kill -TERM $mon
check "stops within 2 s" wait_for 2 sh -c "! kill -0 $mon"
check "no backup child left" sh -c "! pgrep -f '^$BIN/agentbox --config $T/c.json backup' >/dev/null"
finish
