# The scenario's own helpers (source last): the timeline, the launch env
# file, booting a VM to a ready workspace, and failure reports that name
# the step and show the journal lines that matter.
E2E_T0=$SECONDS
# What is kept after the test: the screenshot, the exported journals, the
# cloud's call log, the timeline.
ART=${E2E_ARTIFACTS:-$BUILD/e2e}
rm -rf "$ART" && mkdir -p "$ART"
PROJECT=/home/agent/project
# the workspace (and so its container, agentbox-<name>) of each VM
declare -A VM_WS=()
ctr() { echo "agentbox-${VM_WS[$1]:-ws}"; }
SESSION_DIR=/home/agent/.claude/projects/-home-agent-project
TIMELINE=$T/timeline.txt
CURRENT_PHASE=

# phase TEXT / done_phase: one timeline line per step with its duration.
phase() {
	CURRENT_PHASE=$1
	PHASE_T0=$SECONDS
	printf '\n== [%4ss] %s\n' "$((SECONDS - E2E_T0))" "$1"
}
done_phase() {
	printf '%-78s %4ss\n' "$CURRENT_PHASE" "$((SECONDS - PHASE_T0))" >>"$TIMELINE"
	printf '   done in %ss\n' "$((SECONDS - PHASE_T0))"
}
note() { printf '   %s\n' "$*"; }

# step_fail WHAT N [JOURNAL ARGS]: FAIL naming the step, then the VM's
# journal lines of the agentbox units (or of the ARGS given).
step_fail() {
	local what=$1 n=$2
	shift 2
	fail "step '$CURRENT_PHASE': $what"
	echo "---- VM $n journal (${*:--u agentbox-*}), last 40 lines; agentbox's own last 30 ----"
	if docker inspect "$(vm_name "$n")" >/dev/null 2>&1; then
		vm_journal "$n" -o short-precise "${@:--u agentbox-*}" 2>&1 | tail -n 40
		echo "----"
		vm_journal "$n" -o short-precise -t agentbox-init -t agentbox -t agentbox-monitor 2>&1 | tail -n 30
	elif [ -s "$CLOUD_DIR/$(vm_name "$n").journal.txt" ]; then
		grep -E 'agentbox' "$CLOUD_DIR/$(vm_name "$n").journal.txt" | tail -n 40
	fi
	echo "----"
}

# write_env FILE NAME IDLE_TIMEOUT WARN_BEFORE: what a user writes before the
# render step (secrets in files of their own, mode 0600). The idle
# settings the test shortens go in through EXTRA_CONFIG, as a user's would.
write_env() {
	local f=$1
	mkdir -p "$T/secrets"
	cp "$CLOUD_DIR/token" "$T/secrets/hcloud-token"
	cp "$CREDS" "$T/secrets/s3-credentials"
	chmod 600 "$T"/secrets/*
	cat >"$f" <<-EOF
		PROVIDER=hetzner
		INSTALL=deb
		DEB_URL=$DEB_URL
		DEB_SHA256=$DEB_SHA256
		HETZNER_API_URL=$CLOUD_API
		HCLOUD_TOKEN_FILE=$T/secrets/hcloud-token
		WORKSPACE_NAME=$2
		WORKSPACE_IMAGE=$WORKSPACE_IMAGE
		WORKSPACE_UID=$WS_UID
		SSH_KEY=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2eTestKeyOfTheEndToEndTestOnlyXXXXXXXXXX e2e@test
		BUCKET=$BUCKET
		S3_ENDPOINT=$S3_ENDPOINT
		S3_REGION=us-east-1
		S3_CREDENTIALS_FILE=$T/secrets/s3-credentials
		IDLE_TIMEOUT=$3
		EXTRA_CONFIG={"idle": {"warn_before": "$4", "boot_grace": "0s", "interval": "1s"}, "state": {"backup_interval": "off", "paths": ["/home/agent/.claude", "/home/agent/.claude.json", "/home/agent/project"]}}
	EOF
}

# boot_vm N [USER_DATA]: VM N from $T/user-data to a ready workspace, with the checks of
# step 1. Sets BOOT_SECONDS (docker run to agentbox-init READY).
boot_vm() {
	local n=$1 t0=$SECONDS st
	vm_start "$n" "${2:-$T/user-data}"
	note "VM $n: container $(vm_name "$n"), server id $(vm_id "$n"), address $(vm_addr "$n")"
	if vm_wait_cloudinit "$n" 300; then
		pass "VM $n: cloud-init status done ($((SECONDS - t0))s)"
	else
		step_fail "cloud-init did not end 'done' within 300s: $(tr '\n' ' ' <"$T/vm$n/cloud-init-status")" "$n" \
			-u cloud-final -u agentbox-init
		return 1
	fi
	if ! wait_for 300 _init_done "$n"; then
		step_fail "agentbox-init did not become active within 300s ($(vm_exec "$n" systemctl is-active agentbox-init))" "$n"
		return 1
	fi
	BOOT_SECONDS=$((SECONDS - t0))
	INIT_TOTAL=$(vm_journal "$n" -u agentbox-init -o cat | sed -n 's/^  total *//p' | tail -n 1)
	pass "VM $n: agentbox-init ready ${BOOT_SECONDS}s after the VM started"
	vm_journal "$n" -u agentbox-init -o cat | sed -n '/is ready/,$p' | head -n 14 | sed 's/^/   | /'
	st=$(vm_exec "$n" systemctl --failed --plain --no-legend 2>&1)
	if grep -q agentbox <<<"$st"; then step_fail "failed units: $st" "$n"; else pass "VM $n: no agentbox unit failed"; fi
	check "VM $n: workspace container running" \
		[ "$(vm_exec "$n" docker inspect -f '{{.State.Running}}' "$(ctr "$n")" 2>/dev/null)" = true ]
	# The user-data holds the provider token and the storage keys: the
	# workspace container, where agents run untrusted code, must not reach
	# the metadata service, while the VM's own services do and the
	# container still reaches the rest of the cloud.
	check "VM $n: the VM's own services reach the metadata service" \
		vm_exec "$n" curl -sf -m 5 -o /dev/null http://169.254.169.254/hetzner/v1/metadata/instance-id
	check "VM $n: the workspace container reaches the cloud (release server)" \
		_ws_http_status "$n" "$CLOUD_ADDR" 34081 / 200
	check "VM $n: the workspace container cannot reach the metadata service" \
		_ws_no_http "$n" 169.254.169.254 80 /hetzner/v1/metadata/instance-id
	for id in 26c16e3940b8447296746b2c660dc981:identity 1a4c28eb846e4221ba1d9ebf3c67eac3:pull 9ab8bea0344940f38b1f2700e42fd411:ready \
		db7d1e2ef6424557a384840c4f789e2f:monitor-started; do
		if wait_for 20 _journal_has "$n" "MESSAGE_ID=${id%%:*}"; then
			pass "VM $n: journal has ${id#*:} (MESSAGE_ID=${id%%:*})"
		else
			step_fail "no ${id#*:} line (MESSAGE_ID=${id%%:*}) in the journal" "$n"
		fi
	done
	# The monitor under its unit, on /home of ext4 (fanotify): it must stay
	# up, not be killed and restarted by its own syscall filter.
	sleep 4
	st=$(vm_exec "$n" systemctl show -p ActiveState -p NRestarts -p ExecMainStatus agentbox-monitor | tr '\n' ' ')
	if [[ $st == *ActiveState=active* && $st == *NRestarts=0* ]]; then
		pass "VM $n: agentbox-monitor stays up under its unit ($st)"
	else
		step_fail "agentbox-monitor is not running steadily: $st" "$n" -u agentbox-monitor
	fi
	for u in agentbox-display agentbox-xvfb; do
		st=$(vm_exec "$n" systemctl is-active "$u")
		if [ "$st" = active ]; then pass "VM $n: $u active"; else step_fail "$u is $st" "$n" -u "$u"; fi
	done
	return 0
}
_init_done() { [ "$(vm_exec "$1" systemctl is-active agentbox-init 2>/dev/null)" = active ]; }
# _ws_http_line N HOST PORT PATH: the status line of a GET from inside VM
# N's workspace container (curl in the real image, busybox nc in the
# stand-in; 5 s), empty when nothing answered.
_ws_http_line() {
	ws "$1" sh -c "if command -v curl >/dev/null; then curl -si -m 5 http://$2:$3$4;
		else printf 'GET $4 HTTP/1.0\r\nHost: $2\r\n\r\n' | nc -w 5 $2 $3; fi" 2>/dev/null | head -n 1
}
_ws_http_status() { _ws_http_line "$1" "$2" "$3" "$4" | grep -q "^HTTP/1\.[01] $5 "; }
_ws_no_http() { ! _ws_http_line "$1" "$2" "$3" "$4" | grep -q '^HTTP/'; }
_journal_has() { vm_journal "$1" -o cat "$2" | grep -q .; }

# ws N CMD...: CMD as the workspace user in VM N's workspace container.
ws() {
	local n=$1
	shift
	vm_exec "$n" docker exec -u "$WS_UID:$WS_GID" "$(ctr "$n")" "$@"
}
ws_in() { # ws with stdin
	local n=$1
	shift
	docker exec -i "$(vm_name "$n")" docker exec -i -u "$WS_UID:$WS_GID" "$(ctr "$n")" "$@"
}

# step_screen N: an X client of the workspace paints the root window once,
# before any browser connects; noVNC in headless Chromium, through the
# VM's display port (in the VM's network namespace, as an SSH tunnel
# would), must show it.
step_screen() {
	local n=$1 out
	[ -x "$TOP/tests/display/node_modules/.bin/playwright-core" ] || [ -d "$TOP/tests/display/node_modules/playwright-core" ] ||
		{ skip "step 2 needs tests/display's npm packages (make deps)"; return 0; }
	need_cmd chromium
	# (-d: xlogo stays; xsetroot paints and ends, its error is in the exec's)
	if ! vm_exec "$n" docker exec -d -u "$WS_UID:$WS_GID" "$(ctr "$n")" $X_PAINT 2>"$T/xpaint.err" ||
		! sleep 2 || [ -s "$T/xpaint.err" ]; then
		step_fail "'$X_PAINT' in the workspace container failed: $(cat "$T/xpaint.err")" "$n" -u agentbox-xvfb -u agentbox-display
		return 1
	fi
	_novnc_sees "$n" "the workspace's X client is on the noVNC page" step2-novnc.png
	# The same screen, unchanged since a restarted agentbox-display started
	# (a crash, an upgrade): a client connecting now must see it too.
	vm_exec "$n" systemctl restart agentbox-display
	wait_for 20 _unit_active "$n" agentbox-display
	_novnc_sees "$n" "after a restart of agentbox-display, the unchanged screen is on the noVNC page" step2-novnc-restarted.png
	# the terminal on the same port: the unit's docker group, the real
	# workspace image's tmux, as the workspace user
	out=$(nsenter -t "$(vm_pid "$n")" -n env PORT=6080 \
		timeout 120 node "$TOP/tests/display/terminal.js" type 2>&1)
	if grep -q '^OK' <<<"$out"; then
		pass "VM $n: /terminal runs a command in the workspace's tmux ($out)"
	else
		step_fail "/terminal: no: $out" "$n" -u agentbox-display
	fi
}
_unit_active() { [ "$(vm_exec "$1" systemctl is-active "$2")" = active ]; }
_novnc_sees() { # N WHAT PNG
	local n=$1 out
	out=$(nsenter -t "$(vm_pid "$n")" -n env PORT=6080 OUT="$T" \
		timeout 90 node "$TOP/tests/display/novnc.js" pixel 3366cc 2>&1)
	cp "$T/novnc.png" "$ART/$3" 2>/dev/null
	if grep -q '^OK' <<<"$out"; then
		pass "VM $n: $2 ($out)"
		note "screenshot: $ART/$3"
	else
		step_fail "$2: no: $out (screenshot $ART/$3)" "$n" -u agentbox-display
	fi
}

# step_work N: what Claude Code leaves behind, written in the container as
# the workspace user; a busy agent; a logged-in terminal of the VM.
step_work() {
	local n=$1 st
	head -c 3000 /dev/urandom | base64 >"$T/session.jsonl"
	printf '{"type":"user","cwd":"%s","sessionId":"e2e"}\n' "$PROJECT" >>"$T/session.jsonl"
	printf 'int main(void) { return 42; }\n/* %s */\n' "$(head -c 600 /dev/urandom | base64 -w0)" >"$T/main.c"
	ws "$n" mkdir -p "$SESSION_DIR" "$PROJECT"
	ws_in "$n" sh -c "cat >$SESSION_DIR/e2e-session.jsonl" <"$T/session.jsonl"
	ws_in "$n" sh -c "cat >$PROJECT/main.c" <"$T/main.c"
	check "VM $n: session and project files written in the container" \
		[ "$(ws "$n" sha256sum "$PROJECT/main.c" | cut -d' ' -f1)" = "$(sha256sum <"$T/main.c" | cut -d' ' -f1)" ]
	# A login user's terminal: a pty held by script(1), as an SSH login
	# would; what reaches it is in the typescript.
	vm_exec "$n" sh -c 'setsid runuser -u admin -- script -q -f -c "sleep 900" /tmp/admin-tty.log </dev/null >/dev/null 2>&1 &'
	wait_for 10 vm_exec "$n" pgrep -u admin -x sleep || fail "VM $n: no terminal of the login user"
	# A busy agent named claude (tests/helpers/spin; ends within 60 s)
	docker cp "$BUILD/tests/helpers/spin" "$(vm_name "$n"):/tmp/e2e-claude" &&
		vm_exec "$n" docker cp /tmp/e2e-claude "$(ctr "$n"):/tmp/claude" ||
		fail "VM $n: copying the stand-in agent into the container"
	vm_exec "$n" docker exec -d -u "$WS_UID:$WS_GID" "$(ctr "$n")" /tmp/claude --busy
	if wait_for 20 _status_has "$n" 'processes.*claude'; then
		pass "VM $n: agentbox status shows the busy agent"
	else
		step_fail "agentbox status does not show the agent: $(vm_exec "$n" agentbox status 2>&1 | tr '\n' '|')" "$n" -u agentbox-monitor
	fi
	vm_exec "$n" agentbox status 2>&1 | sed 's/^/   | /'
	st=$(vm_exec "$n" agentbox status --json | jq -r .signals.files.detail)
	note "files signal: $st"
}
_status_has() { vm_exec "$1" agentbox status 2>&1 | grep -Eq "$2"; }

# step_idle_delete N: the agent stops; the monitor warns (journal and the
# terminal), backs up, verifies, deletes; the fake cloud exports the
# journal and removes the VM.
step_idle_delete() {
	local n=$1 name j t_idle t_del gens
	name=$(vm_name "$n")
	vm_exec "$n" pkill -x claude
	if wait_for 120 _journal_has "$n" MESSAGE_ID=f8581b0691c74d929090d04b920e3474; then
		pass "VM $n: idle warning in the journal"
	else
		step_fail "no idle warning within 120 s of the work stopping" "$n" -u agentbox-monitor
		return 1
	fi
	if wait_for 10 vm_exec "$n" grep -q "has been idle for" /tmp/admin-tty.log; then
		pass "VM $n: the login user's terminal received the warning"
	else
		step_fail "the warning did not reach the login user's terminal ($(vm_exec "$n" cat /tmp/admin-tty.log | head -c 300))" "$n" -u agentbox-monitor
	fi
	if wait_for 150 vm_gone "$n"; then
		pass "VM $n: deleted by the fake cloud ($(cat "$CLOUD_DIR/$name.deleted"))"
	else
		step_fail "VM $n was not deleted within 150 s of the warning; calls: $(cloud_calls 'select(.server == "api")' | tail -n 3)" "$n" -u agentbox-monitor
		return 1
	fi
	j=$CLOUD_DIR/$name.journal.json
	cp "$j" "$CLOUD_DIR/$name.journal.txt" "$ART/" 2>/dev/null
	check "VM $n: exactly one DELETE /v1/servers/$(vm_id "$n")" \
		[ "$(cloud_calls "select(.method == \"DELETE\" and .path == \"/v1/servers/$(vm_id "$n")\")" | grep -c .)" = 1 ]
	for id in f8581b0691c74d929090d04b920e3474:warning 4ec1b1bd19a14d40a471443587b15bfd:idle \
		77f6faadb712487d9e8eb8337b4117f6:final-backup 8e3fa1c08b6848ab897cbf26c2a81b1d:deleting \
		56524f973ac349869ef4caa74aabf0d4:action; do
		if jq -se --arg m "${id%%:*}" 'any(.[]; .MESSAGE_ID == $m)' "$j" >/dev/null 2>&1; then
			pass "VM $n: exported journal shows ${id#*:}"
		else
			fail "step '$CURRENT_PHASE': the exported journal has no ${id#*:} (MESSAGE_ID=${id%%:*})"
		fi
	done
	echo "   the monitor's lines of the delete, from the exported journal ($ART/$name.journal.txt):"
	jq -r 'select(._SYSTEMD_UNIT == "agentbox-monitor.service") | .MESSAGE' "$j" | tail -n 12 | sed 's/^/   | /'
	t_idle=$(jq -r 'select(.MESSAGE_ID == "4ec1b1bd19a14d40a471443587b15bfd") | .__REALTIME_TIMESTAMP' "$j" | tail -n 1)
	t_del=$(cloud_calls "select(.method == \"DELETE\" and .path == \"/v1/servers/$(vm_id "$n")\") | .time" | head -n 1)
	[ -n "$t_idle" ] && [ -n "$t_del" ] && FIG_IDLE_TO_DELETE=$(python3 -c "print('%.1f' % ($t_del - $t_idle / 1e6))")
	note "idle confirmed -> DELETE sent: ${FIG_IDLE_TO_DELETE:-?} s"
	gens=$(jq -r 'select(.MESSAGE_ID == "77f6faadb712487d9e8eb8337b4117f6") | .AGENTBOX_GENERATION // empty' "$j" | tail -n 1)
	LAST_GENERATION=$gens
	FIG_STATE=$(jq -r 'select(.MESSAGE_ID == "77f6faadb712487d9e8eb8337b4117f6") | .MESSAGE' "$j" | sed -n 's/^Backed up \(.*\) as generation.*, \([0-9]* bytes\), in.*/\1, \2 in the bucket/p' | tail -n 1)
	note "final generation: ${gens:-?}"
	return 0
}

# step_relaunch N OLD: VM N from the same user-data restores what VM OLD
# backed up: same bytes, same absolute paths, same owner.
step_relaunch() {
	local n=$1 old=$2 f gen
	boot_vm "$n" || return 1
	FIG_RELAUNCH=$BOOT_SECONDS FIG_INIT2=$INIT_TOTAL
	gen=$(vm_exec "$n" cat /var/lib/agentbox/restored-generation 2>/dev/null)
	if [ -n "${LAST_GENERATION:-}" ]; then
		check "VM $n: restored generation $gen is VM $old's final one ($LAST_GENERATION)" [ "$gen" = "$LAST_GENERATION" ]
	else
		check "VM $n: restored a generation ($gen)" [ -n "$gen" ] && [ "$gen" != none ]
	fi
	for f in "$SESSION_DIR/e2e-session.jsonl:$T/session.jsonl" "$PROJECT/main.c:$T/main.c"; do
		check "VM $n: ${f%%:*} byte for byte" \
			[ "$(vm_exec "$n" sha256sum "${f%%:*}" | cut -d' ' -f1)" = "$(sha256sum <"${f#*:}" | cut -d' ' -f1)" ]
		check "VM $n: ${f%%:*} owned by the workspace user ($WS_UID:$WS_GID)" \
			[ "$(vm_exec "$n" stat -c %u:%g "${f%%:*}")" = "$WS_UID:$WS_GID" ]
	done
	check "VM $n: the container sees the session at the same path" ws "$n" test -s "$SESSION_DIR/e2e-session.jsonl"
}

report() {
	{
		echo "VM boot to workspace ready:            ${FIG_BOOT:-?} s (agentbox-init itself: ${FIG_INIT:-?}; image: $WORKSPACE_KIND)"
		echo "idle confirmed to DELETE sent:         ${FIG_IDLE_TO_DELETE:-?} s (state: ${FIG_STATE:-?})"
		echo "relaunch (VM 2 start) to state restored: ${FIG_RELAUNCH:-?} s (agentbox-init itself: ${FIG_INIT2:-?})"
		echo "total:                                 $((SECONDS - E2E_T0)) s"
	} >>"$TIMELINE"
	cp "$TIMELINE" "$CLOUD_DIR/calls.jsonl" "$ART/" 2>/dev/null
	echo
	echo "== timeline"
	cat "$TIMELINE"
	echo "artifacts (screenshot, exported journals, cloud calls): $ART"
}

# step_quick KEEP CUT KILL: three VMs (own workspaces, idle after 30 s):
#   KEEP  holds a keepalive: never deleted
#   CUT   loses the bucket before idle: no delete, the journal says why
#   KILL  its monitor is SIGKILLed during the final backup: systemd restarts
#         it, and there is still exactly one DELETE, after a verified
#         generation of the restarted monitor
step_quick() {
	local keep=$1 cut=$2 kill=$3 n name j out t_del t_gen
	for n in "$keep" "$cut" "$kill"; do
		VM_WS[$n]=ws$n
		write_env "$T/quick$n.env" "ws$n" 30s 10s
		render_user_data "$T/quick$n.env" "$T/user-data-$n"
	done
	boot_vm "$keep" "$T/user-data-$keep" || return 1
	vm_exec "$keep" agentbox keepalive 10m >/dev/null || fail "VM $keep: agentbox keepalive 10m"
	boot_vm "$cut" "$T/user-data-$cut" || return 1
	in_cloud iptables -I INPUT -s "$(vm_addr "$cut")" -p tcp --dport "$BUCKET_PORT" -j REJECT --reject-with tcp-reset
	boot_vm "$kill" "$T/user-data-$kill" || return 1
	# a state big enough that the final backup takes a moment
	ws "$kill" sh -c "mkdir -p /home/agent/.claude && head -c 100000000 /dev/urandom >/home/agent/.claude/big.bin" ||
		fail "VM $kill: writing 100 MB of state"
	# (the pattern is anchored: this loop's own command line holds the words too)
	out=$(vm_exec "$kill" sh -c 'for i in $(seq 1200); do
		if pgrep -f "^([^ ]*/)?agentbox --config [^ ]+ internal-delete-job backup" >/dev/null; then
			kill -9 "$(systemctl show -p MainPID --value agentbox-monitor)" && echo killed && exit 0
		fi
		sleep 0.05
	done; exit 1')
	if [ "$out" = killed ]; then
		pass "VM $kill: monitor SIGKILLed during its final backup"
		KILL_TIME=$(date +%s.%N)
	else
		step_fail "the final backup never started within 60 s" "$kill" -u agentbox-monitor
		return 1
	fi
	if wait_for 150 vm_gone "$kill"; then
		pass "VM $kill: deleted after the restart"
	else
		step_fail "VM $kill was not deleted within 150 s of the kill" "$kill" -u agentbox-monitor
	fi
	name=$(vm_name "$kill")
	j=$CLOUD_DIR/$name.journal.json
	cp "$j" "$CLOUD_DIR/$name.journal.txt" "$ART/" 2>/dev/null
	check "VM $kill: exactly one DELETE" \
		[ "$(cloud_calls "select(.method == \"DELETE\" and .path == \"/v1/servers/$(vm_id "$kill")\")" | grep -c .)" = 1 ]
	check "VM $kill: the restarted monitor found the sequence interrupted in its final backup" \
		jq -se 'any(.[]; .MESSAGE | strings | test("A delete sequence was interrupted at step .backup."))' "$j"
	check "VM $kill: systemd restarted the killed monitor" \
		jq -se 'any(.[]; .MESSAGE | strings | test("agentbox-monitor.service: Main process exited, code=killed, status=9/KILL"))' "$j" >/dev/null
	t_del=$(cloud_calls "select(.method == \"DELETE\" and .path == \"/v1/servers/$(vm_id "$kill")\") | .time" | head -n 1)
	t_gen=$(jq -r 'select(.MESSAGE_ID == "77f6faadb712487d9e8eb8337b4117f6") | .__REALTIME_TIMESTAMP' "$j" | tail -n 1)
	check "VM $kill: a generation verified after the kill, before the DELETE" \
		python3 -c "import sys; sys.exit(0 if $KILL_TIME < ${t_gen:-0} / 1e6 < ${t_del:-0} else 1)"
	# KEEP and CUT have been idle long enough by now
	check "VM $keep: held by its keepalive, not deleted" \
		[ "$(cloud_calls "select(.method == \"DELETE\" and .path == \"/v1/servers/$(vm_id "$keep")\")" | grep -c .)" = 0 ]
	check "VM $keep: still running, state held" [ "$(vm_exec "$keep" agentbox status --json | jq -r .state)" = held ]
	if wait_for 60 _journal_has "$cut" MESSAGE_ID=d2e2cabf8554475988889bab43a4b4a8 &&
		vm_journal "$cut" -o cat MESSAGE_ID=d2e2cabf8554475988889bab43a4b4a8 | grep -q 'final backup failed'; then
		pass "VM $cut: the delete failed, and the journal says why (the final backup failed)"
		vm_journal "$cut" -o cat MESSAGE_ID=d2e2cabf8554475988889bab43a4b4a8 | tail -n 2 | sed 's/^/   | /'
	else
		step_fail "no action-failed line (MESSAGE_ID=d2e2cabf…) with the bucket cut" "$cut" -u agentbox-monitor
	fi
	check "VM $cut: not deleted" \
		[ "$(cloud_calls "select(.method == \"DELETE\" and .path == \"/v1/servers/$(vm_id "$cut")\")" | grep -c .)" = 0 ]
	check "VM $cut: still running" vm_exec "$cut" true
}
