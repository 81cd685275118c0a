#!/usr/bin/env bash
# A client's first frame is the screen as it is now, not what the
# framebuffer held before: X content drawn before agentbox-display starts,
# drawn while nobody watches, and after a resize nobody watched, is in the
# first update with pixels that a client gets (the probe without the
# desktop-size encodings, whose first update carries pixels at once; noVNC
# in Chromium as a user's browser).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
need_display_tools
need_cmd xlogo

D=:350 RFB=35010 WEB=35011
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T"},
 "display": {"x_display": "$D", "port": $RFB, "web_port": $WEB}}
JSON
export DISPLAY=$D
first() { VNC_NO_RESIZE=1 "$PROBE" first 127.0.0.1 $RFB "$@"; }

# drawn before agentbox-display starts: a window and the root around it
start_xvfb $D 1024x768
xsetroot -solid '#2050a0'
xlogo -bg '#e08020' -fg '#e08020' -geometry 400x300+312+234 >/dev/null 2>&1 &
XL=$!
at_exit "kill $XL"
wait_for 10 sh -c "xwininfo -root -tree | grep -q xlogo"
sleep 0.3
start_display "$T/c.json" "$T/display.log"
check "serves" wait_for 15 served "$T/display.log"
check "first frame shows a window drawn before the start" first e08020 512 384
check "first frame shows the root drawn before the start" first 2050a0 800 600

# drawn while no client is connected (damage read only while someone
# watches): each first frame must already show it
for c in c03030 30c060 6040d0; do
	xsetroot -solid "#$c"
	sleep 0.3
	check "first frame shows #$c, drawn while nobody watched" first $c 800 600
done

# resized while nobody watched, then drawn on
if command -v xrandr >/dev/null; then
	xrandr --fb 800x600 >/dev/null 2>&1
	wait_for 5 grep -q 'Screen is now 800x600' "$T/display.log"
	xsetroot -solid '#a0a020'
	sleep 0.3
	check "first frame after an unwatched resize" first a0a020 790 590
	xrandr --fb 1024x768 >/dev/null 2>&1
	wait_for 5 grep -q 'Screen is now 1024x768' "$T/display.log"
	xsetroot -solid '#2050a0'
else
	skip "resize: needs xrandr"
fi

if [ -x /usr/bin/chromium ] && [ -d "$DISPLAY_TESTS/node_modules/playwright-core" ] &&
	[ -f /usr/share/novnc/vnc.html ]; then
	sleep 0.3
	out=$(PORT=$WEB OUT=$T novnc pixel e08020)
	check "noVNC shows the window drawn before any client ($out)" grep -q '^OK pixel' <<<"$out"
else
	skip "noVNC first frame: needs chromium, playwright-core and novnc"
fi
check "stops cleanly on SIGTERM" stops_cleanly "$T/display.log"
finish
