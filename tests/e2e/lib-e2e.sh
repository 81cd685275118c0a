# The scenario's own helpers (source last): the timeline, the launch env
# file, booting a VM to a ready workspace, and failure reports that name
# the step and show the journal lines that matter.
E2E_T0=$SECONDS
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
	echo "---- VM $n journal (${*:--u agentbox-*}), last 40 lines ----"
	if docker inspect "$(vm_name "$n")" >/dev/null 2>&1; then
		vm_journal "$n" -o short-precise "${@:--u agentbox-*}" 2>&1 | tail -n 40
	elif [ -s "$CLOUD_DIR/$(vm_name "$n").journal.txt" ]; then
		grep -E 'agentbox' "$CLOUD_DIR/$(vm_name "$n").journal.txt" | tail -n 40
	fi
	echo "----"
}

# write_env FILE IDLE_TIMEOUT WARN_BEFORE: what a user writes before the
# render step (secrets in files of their own, mode 0600).
write_env() {
	local f=$1
	mkdir -p "$T/secrets"
	printf '%s' "$(cat "$CLOUD_DIR/token")" >"$T/secrets/hcloud-token"
	printf '%s' "$S3_ACCESS_KEY" >"$T/secrets/s3-access-key"
	printf '%s' "$S3_SECRET_KEY" >"$T/secrets/s3-secret-key"
	chmod 600 "$T"/secrets/*
	cat >"$f" <<-EOF
		PROVIDER=hetzner
		INSTALL=deb
		DEB_URL=$DEB_URL
		DEB_SHA256=$DEB_SHA256
		HETZNER_API_URL=$CLOUD_API
		HCLOUD_TOKEN_FILE=$T/secrets/hcloud-token
		WORKSPACE_NAME=ws
		WORKSPACE_IMAGE=$WORKSPACE_IMAGE
		IDLE_TIMEOUT=$2
		IDLE_WARN_BEFORE=$3
		IDLE_BOOT_GRACE=0s
		BACKUP_INTERVAL=off
		S3_ENDPOINT=$S3_ENDPOINT
		S3_REGION=us-east-1
		S3_BUCKET=$BUCKET
		S3_ACCESS_KEY_FILE=$T/secrets/s3-access-key
		S3_SECRET_KEY_FILE=$T/secrets/s3-secret-key
		SSH_AUTHORIZED_KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2eTestKeyOfTheEndToEndTestOnly e2e@test"
	EOF
}

# boot_vm N: VM N from $T/user-data to a ready workspace, with the checks of
# step 1. Sets BOOT_SECONDS (docker run to agentbox-init READY).
boot_vm() {
	local n=$1 t0=$SECONDS st
	vm_start "$n" "$T/user-data"
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
	pass "VM $n: agentbox-init ready ${BOOT_SECONDS}s after the VM started"
	vm_journal "$n" -u agentbox-init -o cat | sed -n '/is ready/,$p' | head -n 14 | sed 's/^/   | /'
	st=$(vm_exec "$n" systemctl --failed --plain --no-legend 2>&1)
	if grep -q agentbox <<<"$st"; then step_fail "failed units: $st" "$n"; else pass "VM $n: no agentbox unit failed"; fi
	check "VM $n: workspace container running" \
		[ "$(vm_exec "$n" docker inspect -f '{{.State.Running}}' agentbox-ws 2>/dev/null)" = true ]
	for id in 26c16e3940b8447296746b2c660dc981:identity 9ab8bea0344940f38b1f2700e42fd411:ready \
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
_journal_has() { vm_journal "$1" -o cat "$2" | grep -q .; }
