#!/usr/bin/env bash
# Warnings that reach the user: agentbox-monitor posts its events to the
# webhook in notify.webhook_url_file (a receiver on loopback, port 23501):
# the idle warning with the keepalive hint, the action taken, a delete
# refused and why, a failed backup; as the JSON document, as text/plain
# (ntfy) and as {"text": ...} (Slack-style); bounded retries on 5xx; the
# URL (a secret) in no log.
. "$(dirname "$0")/../lib.sh"
need_cmd python3
need_cmd jq

PORT=23501
OUT=$T/hooks.log STATUS=$T/status
python3 "$TOP/tests/notify/receiver.py" $PORT "$OUT" "$STATUS" >"$T/receiver.out" 2>&1 &
at_exit "kill $!"
wait_for 10 grep -q ready "$T/receiver.out" || { fail "the receiver did not start"; finish; }
URL="http://127.0.0.1:$PORT/hook/secret-path-3141"
printf '%s\n' "$URL" >"$T/url"
chmod 600 "$T/url"
mkdir -p "$T/home" "$T/state"
# The restore at boot failed: the delete sequence refuses (and says why).
touch "$T/state/restore-failed"

# cfg FORMAT [EXTRA]: idle after 1.5 s with a warning 1 s before, action delete
cfg() {
	cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "100ms", "timeout": "1500ms", "warn_before": "1s",
          "watch_paths": ["$T/home"], "ports": [], "action": "delete",
          "delete_without_backup": true},
 "notify": {"webhook_url_file": "$T/url", "format": "$1"}, ${2:-}
 "provider": {"name": "none"}}
JSON
}
# run NAME: the monitor until the delete is refused (at most 15 s)
run() {
	: >"$OUT"
	rm -rf "$T/run"
	AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/$1.log" &
	mon=$!
	wait_for 15 grep -q 'refused' "$OUT"
	sleep 0.3
	kill $mon
	wait $mon 2>/dev/null
}
# the events' names, sorted (each is sent by its own child, in parallel)
events() { jq -r .body "$OUT" | jq -r .event 2>/dev/null | sort -u | tr '\n' ' '; }

cfg json
run json
check "json: idle warning, action, delete refused" [ "$(events)" = "action delete_refused idle_warning " ]
check "json: POSTed to the URL's path as application/json" [ "$(jq -r '.method + " " + .path + " " + .type' "$OUT" | sort -u)" = "POST /hook/secret-path-3141 application/json" ]
check "json: the warning carries the keepalive hint" [ "$(jq -r .body "$OUT" | jq -r 'select(.event == "idle_warning") | .hint' | sort -u)" = "agentbox keepalive 2h" ]
check "json: the warning says when and what" sh -c "jq -r .body $OUT | jq -r 'select(.event == \"idle_warning\") | .message' | grep -q 'idle for .* delete, unless there is activity'"
check "json: the refusal says why" sh -c "jq -r .body $OUT | jq -r 'select(.event == \"delete_refused\") | .message' | grep -q 'Delete refused, nothing deleted.*state restore at boot failed'"
check "json: host and workspace named" [ "$(jq -r .body "$OUT" | jq -r '.host + "/" + .workspace' | sort -u)" = "$(hostname)/default" ]
check "json: the URL in no log" sh -c "! grep -q secret-path-3141 $T/json.log $T/run/status.json 2>/dev/null"

cfg text
run text
check "text: text/plain for ntfy" [ "$(jq -r .type "$OUT" | sort -u)" = "text/plain; charset=utf-8" ]
check "text: one line per event, naming the host" sh -c "jq -r .body $OUT | grep -q \"^agentbox $(hostname): This workspace has been idle\""

cfg slack
run slack
check "slack: {\"text\": ...}" sh -c "jq -r .body $OUT | jq -r .text | grep -q \"^agentbox $(hostname): Delete refused\""

# 5xx: three attempts per event, then a warning that names the file, not the URL
echo 503 >"$STATUS"
cfg json
run retries
# the sender's two waits (1 s, 2 s), then no fourth attempt
wait_for 10 sh -c "[ \$(jq -r .body $OUT | jq -r .event | grep -c idle_warning) -ge 3 ]"
sleep 2.5
rm -f "$STATUS"
# per warning (other terminals on a shared machine may make a second one)
check "5xx: three attempts for each warning" [ "$(jq -r .body "$OUT" | jq -r 'select(.event == "idle_warning") | .message' | sort | uniq -c | awk '{print $1}' | sort -u)" = 3 ]
check "5xx: the failure logged by file, without the URL" sh -c "grep -q 'Webhook (notify.webhook_url_file $T/url) answered HTTP 503' $T/retries.log && ! grep -q secret-path-3141 $T/retries.log"

# a backup that fails (no bucket answers): backup_failed
rm -f "$T/state/restore-failed"
printf '[default]\naws_access_key_id = K\naws_secret_access_key = S\n' >"$T/creds"
chmod 600 "$T/creds"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "100ms", "timeout": "1h", "warn_before": "0s",
          "watch_paths": ["$T/home"], "ports": [], "action": "none"},
 "notify": {"webhook_url_file": "$T/url"},
 "state": {"paths": ["$T/home"], "backup_interval": "1s",
           "storage": {"endpoint": "http://127.0.0.1:23509", "bucket": "bkt", "path_style": true,
                       "credentials_file": "$T/creds"}},
 "provider": {"name": "none"}}
JSON
: >"$OUT"
rm -rf "$T/run"
"$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/backup.log" &
mon=$!
wait_for 30 sh -c "jq -r .body $OUT | jq -r .event | grep -q backup_failed"
kill $mon
wait $mon 2>/dev/null
check "backup failing: backup_failed sent" sh -c "jq -r .body $OUT | jq -r 'select(.event == \"backup_failed\") | .message' | grep -q 'Periodic backup failed, retrying in'"
finish
