#!/usr/bin/env bash
# agentbox-display under a real Xvfb, with real clients: noVNC in headless
# Chromium (pixels, two pages at once, typing and clicking, clipboard both
# ways) and the libvncclient probe over plain RFB. The program starts
# before the X server and waits for it.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
need_display_tools
need_browser
need_cmd xev
need_cmd xclip

D=:355 RFB=35050 WEB=35051
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T"},
 "display": {"x_display": "$D", "port": $RFB, "web_port": $WEB}}
JSON
export DISPLAY=$D
start_display "$T/c.json" "$T/display.log"
sleep 0.5
check "waits for the X server" grep -q "Waiting for X server $D" "$T/display.log"
start_xvfb $D 1280x800
check "serves once X is there" wait_for 15 served "$T/display.log"

xsetroot -solid '#ff0000'
check "RFB probe sees the red root" "$PROBE" check 127.0.0.1 $RFB ff0000

out=$(PORT=$WEB OUT=$BUILD/test-logs novnc pixel ff0000)
echo "$out"
check "noVNC shows the red root (build/test-logs/novnc.png)" grep -q '^OK pixel' <<<"$out"

xsetroot -solid '#00c040'
out=$(PORT=$WEB novnc two 00c040)
echo "$out"
check "two noVNC pages at once see a change" grep -q '^OK two' <<<"$out"
check "RFB probe sees the same change" "$PROBE" check 127.0.0.1 $RFB 00c040

# the X screen changes size: a connected noVNC follows (ExtendedDesktopSize)
if command -v xrandr >/dev/null; then
	(PORT=$WEB novnc resize 1024) >"$T/resize.log" &
	RS=$!
	wait_for 30 grep -q READY "$T/resize.log"
	xrandr --fb 1024x768 >/dev/null 2>&1
	wait $RS
	cat "$T/resize.log"
	check "noVNC follows a screen size change" grep -q '^OK canvas now 1024' "$T/resize.log"
	check "the RFB probe sees the new size" "$PROBE" check 127.0.0.1 $RFB 00c040 1000 700
	xrandr --fb 1280x800 >/dev/null 2>&1
	wait_for 5 grep -q 'Screen is now 1280x800' "$T/display.log"
else
	skip "resize: needs xrandr"
fi

# typing and clicking reach an X client (xev covers the screen)
xev -geometry 1280x800+0+0 -event keyboard -event button >"$T/xev.log" 2>&1 &
XEV=$!
at_exit "kill $XEV"
sleep 1
out=$(PORT=$WEB novnc input)
echo "$out"
# keysyms the US layout lacks (ü, €, Cyrillic de) are bound to free keycodes
"$PROBE" keys 127.0.0.1 $RFB fc 20ac 6c4 >/dev/null
sleep 0.5
kill $XEV
keys=$(grep -oE 'keysym 0x[0-9a-f]+, [A-Za-z]+' "$T/xev.log" | awk '{print $3}' | uniq | tr -d '\n')
echo "xev saw: $keys"
check "a click in the browser is a ButtonPress in X" grep -q 'ButtonPress' "$T/xev.log"
check "typing 'Hello!' in the browser arrives as keysyms" grep -q 'HShifthelo\|Hhelo' <<<"$keys"
check "'!' arrives as exclam" grep -q 'exclam' <<<"$keys"
check "keysyms outside the layout arrive (udiaeresis EuroSign Cyrillic_de)" \
	grep -q 'udiaeresis.*EuroSign.*Cyrillicde\|udiaeresis.*EuroSign.*Cyrillic_de' <<<"$(grep -oE 'keysym 0x[0-9a-f]+, [A-Za-z_]+' "$T/xev.log" | awk '{print $3}' | tr -d '\n')"

# clipboard, X -> browser: the page connects first, then X's CLIPBOARD changes
(PORT=$WEB novnc clip-in "from-x-$$") >"$T/clip-in.log" &
CLIP=$!
wait_for 30 grep -q READY "$T/clip-in.log"
echo -n "from-x-$$" | timeout 20 xclip -selection clipboard -loops 2 &
wait $CLIP
cat "$T/clip-in.log"
check "X clipboard reaches noVNC" grep -q '^OK clipboard from X' "$T/clip-in.log"

# clipboard, browser -> X (UTF-8 kept)
out=$(PORT=$WEB novnc clip-out "from-browser-ü-$$")
echo "$out"
check "noVNC clipboard reaches X" test "$(timeout 5 xclip -o -selection clipboard)" = "from-browser-ü-$$"

check "connects and disconnects are logged with the peer" \
	grep -q 'Display client 127.0.0.1:[0-9]* (websocket) disconnected' "$T/display.log"
check "still running" kill -0 $DPID
check "stops cleanly on SIGTERM" stops_cleanly "$T/display.log"
cp "$T/display.log" "$BUILD/test-logs/display-novnc.server.log" 2>/dev/null
finish
