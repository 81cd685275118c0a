#!/usr/bin/env bash
# agentbox-init with state storage: a generation in S3 (RGW) is restored
# while the image is pulled (each held 4 s by a proxy, so the
# total is about the longer of the two, not their sum), the restored files
# appear in the container's view of the home, a reboot keeps newer local
# state, and a failed restore stops the bring-up (or, with
# state.on_restore_failure "empty", goes on empty).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
. "$TOP/tests/state/lib-state.sh"
need_docker
start_s3
start_dockerd
start_registry open
REG=$REG_PORT
make_image "127.0.0.1:$REG/test/bb:1"

# the image's layer blob is held 4 s by a proxy in front of the registry
# (tests/init/delay-proxy.py; one in front of the storage holds the state)
HOLD=4
layer=$(curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://127.0.0.1:$REG/v2/test/bb/manifests/1" | jq -r '.layers[0].digest')
PROXY=$(free_port)
python3 "$TOP/tests/init/delay-proxy.py" "$PROXY" "$REG" "/blobs/$layer" "$HOLD" >"$T/delay.log" 2>&1 &
at_exit "kill $!"
wait_for 10 grep -q ready "$T/delay.log" || { fail "delay proxy did not start"; finish; }
IMG=127.0.0.1:$PROXY/test/bb:1

export AGENTBOX_LOG_FIELDS=1
not() { ! "$@"; }
# cfg FILE HOME PREFIX STATE_DIR [EXTRA state members]
cfg() {
	write_config "$1.base" "$2" "$3" "${5:-}"
	jq --arg img "$IMG" --arg sock "$DOCKER_SOCK" --arg sd "$4" \
		'.workspace += {name: "st", block_metadata: false, image: $img, command: ["sleep", "100000"], ports: [],
		 docker_host: $sock} | .state_dir = $sd | .provider.name = "none"' "$1.base" >"$1"
}
INIT() { "$BIN/agentbox-init" --services=none -c "$1" >"$T/out" 2>"$T/err"; }
field() { sed -n "s/.*MESSAGE_ID=9ab8bea0344940f38b1f2700e42fd411 .*$1=\([0-9a-zA-Z-]*\).*/\1/p" "$T/err"; }

# -- a generation made on "another machine"
H=$T/home/agent
mkdir -p "$H/.claude/projects/-work-app"
echo '{"session": 1}' >"$H/.claude/projects/-work-app/s1.jsonl"
echo '{"numStartups": 7}' >"$H/.claude.json"
mkdir -p "$H/work/app" && echo 'int main;' >"$H/work/app/main.c" # the projects directory
cfg "$T/c.json" "$H" "ws/" "$T/state"
"$BIN/agentbox" -c "$T/c.json" backup >"$T/backup.out" 2>&1 || { fail "backup"; cat "$T/backup.out"; finish; }
gen=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/backup.out")
rm -rf "$H/.claude" "$H/.claude.json" "$H/work"

# -- first boot: the restore's download is held 4 s too, by a second proxy
S3HOLD=$(free_port)
python3 "$TOP/tests/init/delay-proxy.py" "$S3HOLD" "${S3_ENDPOINT##*:}" "GET /$BUCKET/ws/generations/$gen.tree" "$HOLD" >"$T/s3delay.log" 2>&1 &
at_exit "kill $!"
wait_for 10 grep -q ready "$T/s3delay.log" || { fail "S3 delay proxy did not start"; finish; }
jq --arg e "http://127.0.0.1:$S3HOLD" '.state.storage.endpoint = $e' "$T/c.json" >"$T/c-held.json"
INIT "$T/c-held.json"
rc=$?; [ $rc -eq 0 ] || cat "$T/err" "$T/out"
check "first boot with state: exit 0" [ $rc -eq 0 ]
check "summary names the restored generation" grep -q "state      generation $gen (restored)" "$T/out"
check "restored files in the container's view of the home" \
	[ "$(docker exec agentbox-st cat "$H/.claude/projects/-work-app/s1.jsonl")" = '{"session": 1}' ]
check "restored ~/.claude.json in the container" \
	[ "$(docker exec agentbox-st cat "$H/.claude.json")" = '{"numStartups": 7}' ]
check "the projects directory restored, and the container's working directory" \
	[ "$(docker exec agentbox-st cat app/main.c)" = 'int main;' ]
check "marker records the restored generation" [ "$(cat "$T/state/restored-generation")" = "$gen" ]
check "the layer and the state's tree were held by the proxies" \
	bash -c "grep -q '^end .*/blobs/$layer' '$T/delay.log' && grep -q '^end .*$gen.tree' '$T/s3delay.log'"
pull=$(field AGENTBOX_PULL_MS) restore=$(field AGENTBOX_RESTORE_MS) total=$(field AGENTBOX_ELAPSED_MS)
echo "pull ${pull}ms, restore ${restore}ms, total ${total}ms"; grep "ready in" "$T/err"
check "pull and restore each took their held time" \
	bash -c "[ ${pull:-0} -ge $((HOLD * 1000)) ] && [ ${restore:-0} -ge $((HOLD * 1000)) ]"
check "pull and restore overlapped: total is the longer one, not the sum" \
	[ "${total:-999999}" -lt $((pull + restore - HOLD * 1000 / 2)) ]

# -- a reboot: local state is newer than the backup and must stay
echo '{"numStartups": 8}' >"$H/.claude.json"
api POST "/containers/agentbox-st/stop?t=1" >/dev/null
INIT "$T/c.json"
check "reboot: exit 0" [ $? -eq 0 ]
check "reboot: keeps local state, no restore" grep -q "generation $gen (kept local state)" "$T/out"
check "reboot: the newer local file survived" \
	[ "$(docker exec agentbox-st cat "$H/.claude.json")" = '{"numStartups": 8}' ]
check "reboot: the container was started again" grep -q "agentbox-st (started" "$T/out"
docker rm -f agentbox-st >/dev/null

# -- a new workspace: nothing in storage yet
H2=$T/home2
cfg "$T/new.json" "$H2" "fresh/" "$T/state-new"
INIT "$T/new.json"
check "new workspace: exit 0, nothing to restore" \
	grep -q "generation none (new workspace, nothing to restore)" "$T/out"
check "new workspace: marker says none" [ "$(cat "$T/state-new/restored-generation")" = none ]
docker rm -f agentbox-st >/dev/null

# -- storage unreachable on a fresh machine: fail loudly, keep the instance
dead=$(free_port)
cfg "$T/dead.json" "$T/home3" "ws/" "$T/state-dead"
jq --arg e "http://127.0.0.1:$dead" '.state.storage.endpoint = $e' "$T/dead.json" >"$T/dead2.json"
INIT "$T/dead2.json"
rc=$?
check "storage unreachable: exit 6" [ $rc -eq 6 ]
check "storage unreachable: says the workspace is not started and what to do" \
	grep -q "State restore failed: .*NOT started.*state.on_restore_failure" "$T/err"
check "storage unreachable: journal says step restore" \
	grep -q "MESSAGE_ID=154eb8ade9bc4bdda07806da5ac94599 AGENTBOX_STEP=restore AGENTBOX_EXIT=6" "$T/err"
check "storage unreachable: restore-failed marker for the monitor" [ -s "$T/state-dead/restore-failed" ]
check "storage unreachable: no container created" \
	[ "$(api GET /containers/agentbox-st/json -o /dev/null -w '%{http_code}')" = 404 ]
check "storage unreachable: no restored-generation marker" not [ -e "$T/state-dead/restored-generation" ]

# -- another VM holds the state lease of this prefix: refused, with the way out
H4=$T/home4
mkdir -p "$H4/.claude" && echo x >"$H4/.claude/f"
cfg "$T/lease.json" "$H4" "leased/" "$T/state-lease"
AGENTBOX_INSTANCE_ID=other-vm "$BIN/agentbox" -c "$T/lease.json" backup >"$T/lease.out" 2>&1 ||
	{ fail "backup as other-vm"; cat "$T/lease.out"; }
rm -rf "$H4/.claude"
INIT "$T/lease.json"
rc=$?
check "lease of another VM: exit 6, says how to take over" \
	bash -c "[ $rc -eq 6 ] && grep -q 'Another VM holds the state lease.*agentbox restore --take-over' '$T/err'"
check "lease of another VM: nothing restored" not [ -e "$H4/.claude/f" ]

jq '.state.on_restore_failure = "empty"' "$T/dead2.json" >"$T/dead3.json"
INIT "$T/dead3.json"
check "on_restore_failure empty: exit 0 with a loud warning" \
	bash -c "[ $? -eq 0 ] && grep -q 'starting with EMPTY state' '$T/err'"
check "on_restore_failure empty: summary says so" grep -q "restore failed, started empty" "$T/out"

finish
