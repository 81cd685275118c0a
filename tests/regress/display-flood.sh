#!/usr/bin/env bash
# Connections that never finish the RFB handshake cannot lock users out:
# 75 plain RFB and 75 WebSocket connections that stay silent (a bounded
# flood on loopback) while a user connects and authenticates with the
# password, over RFB and in noVNC; a client authenticated before the flood
# keeps its connection; at most DWEB_MAX_UNAUTH (32) of the flood are held
# at once, and none after the 30 s handshake deadline.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
need_display_tools
need_cmd python3

D=:351 RFB=35020 WEB=35021
printf 'flood123\n' >"$T/pw"
chmod 600 "$T/pw"
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T"},
 "display": {"x_display": "$D", "port": $RFB, "web_port": $WEB, "geometry": "800x600",
             "password_file": "$T/pw"}}
JSON
start_xvfb $D 800x600
DISPLAY=$D xsetroot -solid '#40a060'
start_display "$T/c.json" "$T/display.log"
check "serves" wait_for 15 served "$T/display.log"
export VNC_PASSWORD_FILE=$T/pw

# authenticated before the flood, connected all through it
"$PROBE" idle 127.0.0.1 $RFB 45 >"$T/idle.out" 2>&1 &
IDLE=$!
at_exit "kill $IDLE"
sleep 1

timeout 60 python3 "$DISPLAY_TESTS/flood.py" $RFB $WEB 75 40 >"$T/flood.out" 2>&1 &
FLOOD=$!
at_exit "kill $FLOOD"
wait_for 20 grep -q '^OPEN' "$T/flood.out"
check "flood opened ($(head -1 "$T/flood.out"))" grep -q '^OPEN rfb=75 ws=75' "$T/flood.out"
sleep 1
check "a user authenticates over RFB during the flood" "$PROBE" check 127.0.0.1 $RFB 40a060
if [ -x /usr/bin/chromium ] && [ -d "$DISPLAY_TESTS/node_modules/playwright-core" ] &&
	[ -f /usr/share/novnc/vnc.html ]; then
	out=$(PORT=$WEB PASSWORD=flood123 OUT=$T novnc pixel 40a060)
	check "a user authenticates in noVNC during the flood ($out)" grep -q '^OK pixel' <<<"$out"
else
	skip "noVNC during the flood: needs chromium, playwright-core and novnc"
fi
# held at once: at most 32 of the 150 (plus the few just being set up)
held=$(awk '/^CLOSED/ {c = $2; m = $4} END {print m - c}' "$T/flood.out")
check "at most 32+4 unauthenticated connections held ($held)" test "${held:-999}" -le 36
wait $FLOOD
tail -1 "$T/flood.out"
check "every silent connection closed within the deadline ($(tail -1 "$T/flood.out"))" \
	awk '/^END/ {split($2, a, "="); ok = (a[2] == $4 && $6 + 0 <= 34)} END {exit !ok}' "$T/flood.out"
wait $IDLE
rc=$?
check "the client authenticated before the flood stayed connected ($(cat "$T/idle.out"))" test $rc -eq 0
check "drops are logged" grep -q 'dropped before authentication' "$T/display.log"
check "still serves after the flood" "$PROBE" check 127.0.0.1 $RFB 40a060
check "stops cleanly on SIGTERM" stops_cleanly "$T/display.log"
finish
