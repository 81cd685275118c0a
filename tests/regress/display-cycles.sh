#!/usr/bin/env bash
# 200 WebSocket connect/disconnect cycles (half with a close frame, half
# dropped; pings answered) and 20 plain RFB ones: the server keeps
# serving, and its threads and fds return to where they were.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
need_display_tools
need_cmd python3

D=:356 RFB=35060 WEB=35061
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T"},
 "display": {"x_display": "$D", "port": $RFB, "web_port": $WEB, "geometry": "800x600"}}
JSON
start_xvfb $D 800x600
DISPLAY=$D xsetroot -solid '#3050a0'
start_display "$T/c.json" "$T/display.log"
check "serves" wait_for 15 served "$T/display.log"
check "probe sees the screen" "$PROBE" check 127.0.0.1 $RFB 3050a0
sleep 0.5
fds0=$(ls /proc/$DPID/fd | wc -l)
threads0=$(ls /proc/$DPID/task | wc -l)

out=$(timeout 120 python3 "$TOP/tests/display/ws-cycle.py" $WEB 200)
echo "$out"
check "200 WebSocket cycles, pings answered" grep -q '^OK 200' <<<"$out"
ok=0
for i in $(seq 20); do
	"$PROBE" check 127.0.0.1 $RFB 3050a0 >/dev/null && ok=$((ok + 1))
done
check "20 RFB cycles ($ok ok)" test $ok -eq 20
[ $ok -eq 20 ] || grep -E 'dropped|libvncserver' "$T/display.log" | tail -5

# 120 idle TCP connections to the web port: the oldest make room
python3 - $WEB <<'PY' &
import socket, sys, time
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(120)]
time.sleep(4)
PY
IDLE=$!
sleep 2
check "serves a page while 120 idle connections are open" \
	test "$(curl -s -o /dev/null -m 5 -w '%{http_code}' http://127.0.0.1:$WEB/vnc.html)" = 200
wait $IDLE

settled() {
	[ "$(ls /proc/$DPID/task | wc -l)" -le "$threads0" ] &&
		[ "$(ls /proc/$DPID/fd | wc -l)" -le "$fds0" ]
}
wait_for 10 settled
echo "fds $fds0 -> $(ls /proc/$DPID/fd | wc -l), threads $threads0 -> $(ls /proc/$DPID/task | wc -l)"
check "no fds or threads left behind" settled
DISPLAY=$D xsetroot -solid '#a05030'
check "still serving after the cycles" "$PROBE" check 127.0.0.1 $RFB a05030
check "still running" kill -0 $DPID
check "stops cleanly on SIGTERM" stops_cleanly "$T/display.log"
n=$(grep -c '(websocket) disconnected' "$T/display.log")
check "every WebSocket disconnect logged ($n)" test "$n" -ge 200
finish
