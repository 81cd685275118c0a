#!/usr/bin/env bash
# The terminal at /terminal: agentbox-display bridges xterm.js in headless
# Chromium to tmux in a workspace container of the test's own dockerd
# (Engine API exec with a TTY). A command's output shows in the page,
# `tput cols` follows the window, two pages share the session, the page
# reconnects after the container restarts, hostile WebSocket clients do not
# break a legitimate terminal, and with a web password the page and its
# WebSocket are behind the login (display-webauth.sh tests the login).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
. "$TOP/tests/init/lib-docker.sh"
. "$TOP/tests/term/lib-term.sh"
need_display_tools
need_browser
need_docker
need_tmux_image_tools
[ -f "$BUILD/share/terminal/xterm.js" ] || { skip "needs $BUILD/share/terminal (make; npm ci in display/terminal)"; exit 0; }
start_dockerd
make_tmux_image termtest:tmux
start_workspace ws1

D=:362 RFB=22510 WEB=22511
cat >"$T/c.json" <<JSON
{"workspace": {"name": "ws1", "user": "agent", "home": "$T", "docker_host": "$DOCKER_SOCK"},
 "display": {"x_display": "$D", "port": $RFB, "web_port": $WEB,
             "terminal_dir": "$BUILD/share/terminal"}}
JSON
start_xvfb $D 1024x768
start_display "$T/c.json" "$T/display.log"
check "serves" wait_for 15 served "$T/display.log"
check "says where the terminal is" grep -q "Terminal (tmux in container agentbox-ws1) on http://127.0.0.1:$WEB/terminal" "$T/display.log"
term() { (cd "$DISPLAY_TESTS" && PORT=$WEB timeout 120 node terminal.js "$@" 2>&1); }

code=$(curl -s -o "$T/page" -w '%{http_code}' "http://127.0.0.1:$WEB/terminal")
check "GET /terminal serves the page" [ "$code" = 200 ]
check "the page loads xterm.js from this server" grep -q 'src="/terminal/xterm.js"' "$T/page"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB/terminal/xterm.js")
check "xterm.js is served locally" [ "$code" = 200 ]
code=$(curl -s --path-as-is -o /dev/null -w "%{http_code}" "http://127.0.0.1:$WEB/terminal/../vnc.html")
check "no way out of the terminal's directory" [ "$code" = 404 ]

out=$(term type); echo "$out"
check "a command's output shows in the page, run as the workspace user" grep -q '^OK output in the page: hello-42 from agent' <<<"$out"
out=$(term resize); echo "$out"
check "tput cols follows the window" grep -q '^OK tput cols' <<<"$out"
out=$(term two); echo "$out"
check "two pages share the session" grep -q '^OK both pages' <<<"$out"
check "closing the tabs left the session running" docker exec -u agent agentbox-ws1 tmux has-session -t main
no_clients() { [ -z "$(docker exec -u agent agentbox-ws1 tmux list-clients)" ]; }
check "closing the tabs detached their tmux clients" wait_for 10 no_clients

# the container restarts under an open page
term reconnect >"$T/reconnect.log" &
rpid=$!
wait_for 30 grep -q READY "$T/reconnect.log"
docker restart -t 1 agentbox-ws1 >/dev/null
wait $rpid
cat "$T/reconnect.log"
check "the page says the terminal is gone" grep -q '^OK the page says: .*Reconnecting' "$T/reconnect.log"
check "the page attaches again after the container restarted" grep -q '^OK attached again' "$T/reconnect.log"

# the container is down: the page says so
docker stop -t 1 agentbox-ws1 >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB/terminal")
check "the page is served while the container is down" [ "$code" = 200 ]
python3 "$TOP/tests/term/ws-open.py" "$WEB" /terminal/ws >"$T/down.log" 2>&1
check "a terminal while the container is down: the message says so" grep -q 'is not running' "$T/down.log"
docker start agentbox-ws1 >/dev/null

# hostile clients next to a legitimate terminal
term hold 14 >"$T/hold.log" &
hpid=$!
wait_for 30 grep -q READY "$T/hold.log"
# activity as the monitor sees it (docs/monitor-signals-sessions.md): the
# page's tmux client has the exec's pty as controlling terminal, and the
# keystrokes move that pty's input time (set into the past first: the
# kernel moves it only across 8-second blocks)
client=$(api GET '/containers/agentbox-ws1/top?ps_args=-eo%20pid,args' |
	jq -r '.Processes[] | select(.[1] | startswith("tmux new-session -A -s main")) | .[0]' | head -1)
past=$(($(date +%s) - 100))
if [ -n "$client" ] && touch -d "@$past" "/proc/$client/fd/0"; then
	check "the page's tmux client has a controlling pty" \
		[ "$(awk '{print $7}' "/proc/$client/stat")" -ne 0 ]
	check "typing in the page moves that pty's input time" \
		wait_for 10 sh -c "[ \$(stat -L -c %X /proc/$client/fd/0) -gt $((past + 50)) ]"
else
	fail "no tmux client of the page found in the container"
fi
python3 "$TOP/tests/term/hostile.py" "$WEB" 10 >"$T/hostile.log" 2>&1
wait $hpid
cat "$T/hostile.log" "$T/hold.log"
check "every hostile probe got the answer it should" [ "$(grep -c '^OK' "$T/hostile.log")" -eq 6 ]
check "the legitimate terminal kept working" grep -q '^OK .* commands echoed' "$T/hold.log"
check "the display survived" kill -0 "$DPID"

out=$(term shot "$BUILD/test-logs/terminal.png"); echo "$out"
check "a screenshot (build/test-logs/terminal.png)" grep -q '^OK' <<<"$out"
check "display stops cleanly" stops_cleanly "$T/display.log"

# with a web password the terminal is behind the login like the screen
# (a VNC password besides does not turn it off)
echo secret >"$T/pw" && chmod 600 "$T/pw"
WEBPW=terminal-login-password-0123
printf '%s' "$WEBPW" >"$T/webpw" && chmod 600 "$T/webpw"
jq --arg pw "$T/pw" --arg wpw "$T/webpw" '.display.password_file = $pw | .display.web_password_file = $wpw' \
	"$T/c.json" >"$T/c2.json"
start_display "$T/c2.json" "$T/display2.log"
check "serves with a web password" wait_for 15 served "$T/display2.log"
check "serves the terminal behind the login" grep -q "Terminal (tmux in container agentbox-ws1)" "$T/display2.log"
U=http://127.0.0.1:$WEB
check "/terminal without a session goes to the login page" \
	test "$(curl -s -o /dev/null -m 5 -w '%{http_code} %{redirect_url}' "$U/terminal")" = "303 $U/login?next=/terminal"
check "the terminal's files need the session too" \
	test "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$U/terminal/xterm.js")" = 303
python3 "$TOP/tests/term/ws-open.py" "$WEB" /terminal/ws 5 >"$T/nosession.log" 2>&1
check "the terminal's WebSocket without a session: 401" grep -q '^HTTP/1.1 401' "$T/nosession.log"
session=$(curl -s -D - -o /dev/null -m 5 -H "Origin: $U" --data-urlencode "password=$WEBPW" \
	--data-urlencode 'next=/terminal' "$U/login" | sed -n 's/^Set-Cookie: agentbox_session=\([^;]*\);.*/\1/ip')
check "the login sets a session cookie" [ -n "$session" ]
check "/terminal after the login" \
	test "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Cookie: agentbox_session=$session" "$U/terminal")" = 200
COOKIE="agentbox_session=$session" python3 "$TOP/tests/term/ws-open.py" "$WEB" /terminal/ws 5 >"$T/session.log" 2>&1
check "the terminal's WebSocket after the login attaches" grep -q '"state":"attached"' "$T/session.log"
# the WebSocket lives as long as its session: a logout closes it
COOKIE="agentbox_session=$session" python3 "$TOP/tests/term/ws-open.py" "$WEB" /terminal/ws 20 >"$T/logout.log" 2>&1 &
wpid=$!
wait_for 10 grep -q '"state":"attached"' "$T/logout.log"
start=$(date +%s)
curl -s -o /dev/null -m 5 -H "Origin: $U" -H "Cookie: agentbox_session=$session" -X POST "$U/logout"
wait $wpid
check "a logout closes the session's terminal" test $(($(date +%s) - start)) -lt 10
check "display stops cleanly" stops_cleanly "$T/display2.log"
finish
