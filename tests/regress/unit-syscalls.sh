#!/usr/bin/env bash
# Each shipped unit's SystemCallFilter= allows every system call its
# program really makes: the programs run their main paths under strace -f
# (the monitor with fanotify on a real filesystem, a periodic backup child
# and the idle warning written to another user's terminal, under the
# unit's CapabilityBoundingSet= and SupplementaryGroups=; Xvfb with the
# display reading it through MIT-SHM, an RFB client and the noVNC page,
# both as an unprivileged user with their units' bounding sets), and every
# call seen must be in the unit's list as systemd expands it
# (systemd-analyze syscall-filter). A call outside the list is what kills
# a program with SIGSYS under its unit (open_by_handle_at did, for the
# monitor).
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd strace
need_cmd systemd-analyze
need_cmd jq
private_pidns "$@"
# The units run the plain build. Under the sanitizer build, LeakSanitizer
# cannot run under ptrace (every program exits 1), and the monitor's
# children get a clean environment, so ASAN_OPTIONS cannot turn it off.
if ldd "$BIN/agentbox-monitor" 2>/dev/null | grep -q libasan; then
	skip "sanitizer build: LeakSanitizer cannot run under strace; the plain build's run compares the units"
	exit 0
fi

# The names a unit's SystemCallFilter= lines allow (allow lists only; a
# "~" deny list fails the test: it would need the other comparison).
unit_allowed() {
	local unit=$1 list
	list=$(sed -n 's/^SystemCallFilter=//p' "$TOP/systemd/$unit.service.in" | tr '\n' ' ')
	case $list in "" | *"~"*) return 1 ;; esac
	systemd-analyze syscall-filter 2>/dev/null | awk -v want="$list" '
		/^@/ { g = $1; next }
		/^    [@a-z0-9_]/ { m[g] = m[g] " " $1 }
		function add(x,   n, a, i) {
			if (x ~ /^@/) { if (seen[x]++) return; n = split(m[x], a, " "); for (i = 1; i <= n; i++) add(a[i]) }
			else out[x] = 1
		}
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) add(w[i]); for (x in out) print x }' | sort -u
}
# The system calls an strace -f -o file saw.
trace_calls() { grep -ohE '^[0-9]+ +[a-z0-9_]+\(' "$@" | awk '{ sub(/\(/, "", $2); print $2 }' | sort -u; }
# compare UNIT TRACE...: PASS when every call seen is allowed.
compare() {
	local unit=$1 missing
	shift
	unit_allowed "$unit" >"$T/$unit.allowed" || { fail "$unit: no allow-list SystemCallFilter= to compare"; return; }
	trace_calls "$@" >"$T/$unit.seen"
	check "$unit: calls seen under strace ($(wc -l <"$T/$unit.seen"))" [ -s "$T/$unit.seen" ]
	missing=$(comm -23 "$T/$unit.seen" "$T/$unit.allowed" | tr '\n' ' ')
	check "$unit.service: SystemCallFilter= allows every call its program made${missing:+ (missing: $missing)}" \
		[ -z "$missing" ]
}
# The tracee's own pid (strace's child), for signals.
tracee() { pgrep -P "$1" | head -1; }

# --- the monitor and its children --------------------------------------------
. "$TOP/tests/state/lib-state.sh"
start_s3
mkdir -p "$T/home/.claude/projects" "$T/run"
echo '{}' >"$T/home/.claude.json"
echo "session" >"$T/home/.claude/projects/s1.jsonl"
cat >"$T/m.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "200ms", "timeout": "60s", "warn_before": "58s",
          "action": "poweroff", "ports": [], "watch_paths": ["$T/home"]},
 "state": {"backup_interval": "1s", "paths": ["$T/home/.claude", "$T/home/.claude.json"],
           "storage": {"endpoint": "$S3_ENDPOINT", "bucket": "$BUCKET", "path_style": true,
                       "credentials_file": "$CREDS", "prefix": "us/"}}}
JSON
# a terminal for the idle warning, as a login has it: a pty of another
# user, group tty, mode 0620, held by that user's process
tty_gid=$(getent group tty | cut -d: -f3)
python3 -c '
import os, sys, time
m, s = os.openpty()
os.set_blocking(m, False)
os.fchown(s, 65534, int(sys.argv[2])); os.fchmod(s, 0o620)
os.dup2(s, 0); os.dup2(s, 1)
out = open(sys.argv[1], "ab", buffering=0)
os.setgroups([]); os.setgid(65534); os.setuid(65534)
end = time.time() + 120
while time.time() < end:
    time.sleep(0.2)
    try: out.write(os.read(m, 65536))
    except BlockingIOError: pass
' "$T/pty.out" "$tty_gid" 2>/dev/null </dev/null >/dev/null &
ptyholder=$!
at_exit "kill $ptyholder"
# The warning (at 2 s idle) is walled only when there is an action; the
# monitor is stopped long before the poweroff (at 60 s), and a stand-in
# systemctl catches it should it ever come.
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "$*" >>%s/systemctl.calls\n' "$T" >"$T/fakebin/systemctl"
chmod 755 "$T/fakebin/systemctl"
# With the unit's capability bounding set and supplementary groups (as
# root, like the unit): without CAP_DAC_OVERRIDE only group tty opens the
# terminal.
unit_bset() {
	local caps c out=-all
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$TOP/systemd/$1.service.in")
	for c in $caps; do
		c=${c#CAP_}
		out="$out,+${c,,}"
	done
	echo "$out"
}
unit_groups() {
	local g out=
	for g in $(sed -n 's/^SupplementaryGroups=//p' "$TOP/systemd/$1.service.in"); do
		out="$out${out:+,}$(getent group "$g" | cut -d: -f3)"
	done
	echo "${out:-0}"
}
check "monitor: the pty is another user's, group tty, 0620" \
	wait_for 5 sh -c "stat -L -c '%u %g %a' /proc/$ptyholder/fd/0 | grep -qx '65534 $tty_gid 620'"
PATH=$T/fakebin:$PATH setpriv --bounding-set="$(unit_bset agentbox-monitor)" \
	--groups="$(unit_groups agentbox-monitor)" \
	strace -f -qq -o "$T/monitor.trace" "$BIN/agentbox-monitor" -c "$T/m.json" 2>"$T/monitor.log" &
st=$!
at_exit "kill -9 $st"
status() { "$BIN/agentbox" -c "$T/m.json" status --json 2>/dev/null; }
check "monitor: a backup made (child agentbox backup)" \
	wait_for 60 sh -c "[ \"\$($BIN/agentbox -c $T/m.json status --json | jq -r .backup.last_ok)\" = true ]"
[ "$(status | jq -r .backup.last_ok)" = true ] || { status | jq .backup; tail -20 "$T/monitor.log"; }
check "monitor: fanotify in use (files signal not degraded to inotify)" \
	sh -c "grep -q 'with fanotify\|fanotify: watching' '$T/monitor.log' &&
		[ \"\$($BIN/agentbox -c $T/m.json status --json | jq -r .signals.files.degraded)\" = false ]"
for i in 1 2 3; do echo "write $i" >>"$T/home/.claude/projects/s1.jsonl"; sleep 0.3; done
check "monitor: the idle warning reached a terminal (wall)" \
	wait_for 30 grep -q 'Broadcast message from agentbox-monitor' "$T/pty.out"
check "monitor: no poweroff asked for" [ ! -e "$T/systemctl.calls" ]
mpid=$(tracee $st)
[ -n "$mpid" ] && kill -TERM "$mpid"
wait_for 20 sh -c "! kill -0 $st"
check "monitor: resolved fanotify file handles (open_by_handle_at seen)" \
	grep -q 'open_by_handle_at(' "$T/monitor.trace"
compare agentbox-monitor "$T/monitor.trace"

# --- Xvfb and the display ------------------------------------------------------
if ! command -v Xvfb >/dev/null; then
	skip "Xvfb is not installed: the display units are not compared"
	finish
fi
xd=$((200 + RANDOM % 100))
rp=$(free_port) && wp=$(free_port)
cat >"$T/d.json" <<JSON
{"workspace": {"home": "$T/home", "docker_host": "$T/no-docker.sock"},
 "display": {"x_display": ":$xd", "geometry": "640x480x24", "port": $rp, "web_port": $wp,
             "terminal_dir": "$BUILD/share/terminal"}}
JSON
# as their units run them: another user (User=), no capabilities
chmod 0755 "$T" "$T/home"
chmod 0644 "$T/d.json"
mkdir "$T/tr"
chown 65534:65534 "$T/tr"
as_unit_user() { # unit command...
	local u=$1
	shift
	setpriv --reuid=65534 --regid=65534 --clear-groups --bounding-set="$(unit_bset "$u")" "$@"
}
as_unit_user agentbox-xvfb strace -f -qq -o "$T/tr/xvfb.trace" "$BIN/agentbox-display" --config "$T/d.json" --exec-xvfb >"$T/xvfb.log" 2>&1 &
xs=$!
at_exit "kill -9 $xs; pkill -9 -f 'Xvfb :$xd '"
check "xvfb: the X socket appears" wait_for 30 test -S "/tmp/.X11-unix/X$xd"
as_unit_user agentbox-display strace -f -qq -o "$T/tr/display.trace" "$BIN/agentbox-display" --config "$T/d.json" >"$T/display.log" 2>&1 &
ds=$!
at_exit "kill -9 $ds"
check "display: the RFB port listens" wait_for 30 sh -c "ss -Hltn 'sport = :$rp' | grep -q ."
"$BUILD/tests/helpers/x-painter" ":$xd" 3 >/dev/null 2>&1 &
pp=$!
check "display: an RFB client gets frames" \
	timeout 30 "$BUILD/tests/helpers/vnc-probe" fps 127.0.0.1 "$rp" 2
check "display: the noVNC page is served" \
	sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$wp/vnc.html | grep -qx 200"
# the terminal: its setup thread and the Engine API client (the socket is
# absent here, so the thread's calls are made and the page is told why)
check "display: the terminal's WebSocket answers" \
	sh -c "python3 '$TOP/tests/term/ws-open.py' $wp /terminal/ws | grep -qa 'Cannot open a terminal'"
wait $pp 2>/dev/null
for s in $ds $xs; do
	p=$(tracee $s)
	[ -n "$p" ] && kill -TERM "$p"
done
wait_for 20 sh -c "! kill -0 $ds && ! kill -0 $xs"
compare agentbox-display "$T/tr/display.trace"
compare agentbox-xvfb "$T/tr/xvfb.trace"
finish
