# Helpers for tests/regress/display-*.sh (source after tests/lib.sh).
PROBE=$BUILD/tests/helpers/vnc-probe
DISPLAY_TESTS=$TOP/tests/display

# need_display_tools: skips the test when Xvfb or the probe is missing.
need_display_tools() {
	need_cmd Xvfb
	need_cmd xsetroot
	[ -x "$PROBE" ] || { skip "needs $PROBE"; exit 0; }
}

# need_browser: skips when Chromium, node or playwright-core is missing.
need_browser() {
	need_cmd node
	[ -x /usr/bin/chromium ] || { skip "needs /usr/bin/chromium"; exit 0; }
	[ -d "$DISPLAY_TESTS/node_modules/playwright-core" ] || { skip "needs npm ci in tests/display"; exit 0; }
	[ -f /usr/share/novnc/vnc.html ] || { skip "needs Debian's novnc"; exit 0; }
}

# start_xvfb :N WxH: an Xvfb of our own, stopped at exit.
start_xvfb() {
	Xvfb "$1" -screen 0 "$2x24" -nolisten tcp -noreset >"$T/xvfb$1.log" 2>&1 &
	local pid=$!
	at_exit "kill $pid; wait $pid"
	wait_for 10 xdpyinfo_ok "$1"
}
xdpyinfo_ok() { DISPLAY=$1 xsetroot -name ok 2>/dev/null; }

# start_display CONFIG LOG: agentbox-display in the background; sets DPID.
start_display() {
	"$BIN/agentbox-display" --config "$1" >"$2" 2>&1 &
	DPID=$!
	at_exit "kill $DPID; wait $DPID"
}

# stops_cleanly LOG: SIGTERM to $DPID ends it with status 0 and, in the
# sanitizer build, no report.
stops_cleanly() {
	kill -TERM "$DPID"
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$DPID"
	local rc=$?
	if grep -q 'Sanitizer' "$1"; then
		sed -n '/Sanitizer/,$p' "$1" | head -40
		return 1
	fi
	[ $rc -eq 0 ]
}

# served LOG: the program says it serves.
served() { grep -q 'Serving X display' "$1"; }

# novnc STEP ARG...: runs a browser step; prints its lines.
novnc() {
	(cd "$DISPLAY_TESTS" && timeout 90 node novnc.js "$@" 2>&1)
}
