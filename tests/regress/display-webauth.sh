#!/usr/bin/env bash
# The web front's login (display.web_password_file): without the session
# cookie nothing but /login is served (pages go to the login page,
# WebSockets get 401); a wrong password is refused, the right one sets a
# cookie that is HttpOnly, Secure and SameSite=Strict; after 5 failures an
# address is locked out (429, the right password not even checked) and
# recovers when the wait is over; clients stalling half-sent logins do not
# keep a user out; logout ends the session and closes its
# WebSockets; the password is in no log and no URL. In Chromium: the login
# page, the screen after it, a wrong password, the lockout and its end,
# logout. Then off loopback
# (a link-local address in a network namespace of our own) over TLS: the
# same login, and refusal without it. Config: a public address needs this
# password (VNC's is not enough), and it must be 16 characters or more.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
need_display_tools

D=:2207 RFB=22070 WEB=22071
PW='correct-horse-battery-staple'
conf() { # FILE JSON-display-members
	printf '{"workspace": {"home": "%s"}, "display": {"x_display": "%s", "port": %d, "web_port": %d%s}}\n' \
		"$T" "$D" $RFB $WEB "$2" >"$1"
}
refused() { # NAME CONFIG-MEMBERS EXPECTED-TEXT
	conf "$T/bad.json" "$2"
	timeout 10 "$BIN/agentbox-display" --config "$T/bad.json" >"$T/bad.out" 2>&1
	local rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$T/bad.out")" -eq 1 ] && grep -q "$3" "$T/bad.out"; then
		pass "$1"
	else
		fail "$1 (status $rc: $(cat "$T/bad.out"))"
	fi
}
printf '%s\n' "$PW" >"$T/webpw"
printf 'vncpass1\n' >"$T/vncpw"
printf 'too-short\n' >"$T/short"
chmod 600 "$T/webpw" "$T/vncpw" "$T/short"
refused "public address with only VNC's password refused" \
	", \"listen\": \"0.0.0.0\", \"password_file\": \"$T/vncpw\", \"tls_cert_file\": \"$T/vncpw\", \"tls_key_file\": \"$T/vncpw\"" \
	'needs display.web_password_file'
refused "public address with the web password but no TLS refused" \
	", \"listen\": \"0.0.0.0\", \"web_password_file\": \"$T/webpw\"" 'display.listen'
refused "a web password under 16 characters refused" ", \"web_password_file\": \"$T/short\"" \
	'must hold 16 to 1024 characters'
chmod 644 "$T/webpw"
refused "a web password file readable by others refused" ", \"web_password_file\": \"$T/webpw\"" \
	'display.web_password_file'
chmod 600 "$T/webpw"

start_xvfb $D 1024x768
DISPLAY=$D xsetroot -solid '#208040'
conf "$T/c.json" ", \"web_password_file\": \"$T/webpw\""
start_display "$T/c.json" "$T/display.log"
check "serves with a web password on loopback" wait_for 15 served "$T/display.log"

U=http://127.0.0.1:$WEB
st() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@"; }
login() { # PASSWORD [ORIGIN] -> status; the answer's head in $T/head
	curl -s -o /dev/null -D "$T/head" -m 5 -w '%{http_code}' -H "Origin: ${2:-$U}" \
		--data-urlencode "password=$1" --data-urlencode 'next=/vnc.html?autoconnect=1' \
		"$U/login"
}
upgrade() { # [curl args] -> status of a WebSocket upgrade to /websockify
	curl -s -o /dev/null -m 5 -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
		-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		"$@" "$U/websockify"
}
check "vnc.html without a session goes to the login page (303)" \
	test "$(curl -s -o /dev/null -m 5 -w '%{http_code} %{redirect_url}' "$U/vnc.html?autoconnect=1")" \
	= "303 $U/login?next=/vnc.html%3Fautoconnect%3D1"
check "noVNC's scripts without a session: 303" test "$(st "$U/app/ui.js")" = 303
check "the WebSocket without a session: 401" test "$(upgrade -H "Origin: $U")" = 401
check "the WebSocket with a made-up cookie: 401" \
	test "$(upgrade -H "Origin: $U" -H 'Cookie: agentbox_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')" = 401
check "the login page is served (200)" test "$(st "$U/login")" = 200
check "the login page carries where to go back, HTML-escaped" \
	bash -c "curl -s '$U/login?next=/vnc.html%3Fa%3D1%26b%3D2' | grep -qF 'value=\"/vnc.html?a=1&amp;b=2\"'"
check "a next on another site is replaced by the screen" \
	bash -c "curl -s '$U/login?next=//evil.example/' | grep -qF 'value=\"/vnc.html\"'"
check "the login page may not be framed" \
	bash -c "curl -s -D - -o /dev/null '$U/login' | grep -qi '^X-Frame-Options: DENY'"
check "a wrong password: 401" test "$(login wrong-password-here)" = 401
check "no cookie for a wrong password" bash -c "! grep -qi '^Set-Cookie' '$T/head'"
check "a password in the URL is never taken (no cookie)" \
	bash -c "curl -s -D - -o /dev/null '$U/login?password=$PW' | grep -qi '^Set-Cookie' && exit 1 || exit 0"
check "a login from another site's page refused (403)" \
	test "$(login "$PW" http://evil.example)" = 403
check "the right password: 303 back to the page" test "$(login "$PW")" = 303
check "... to the page it came from" grep -q '^Location: /vnc.html?autoconnect=1' "$T/head"
cookie=$(sed -n 's/^Set-Cookie: agentbox_session=\([^;]*\);.*/\1/p' "$T/head")
check "the session cookie is a 256-bit token (43 base64url characters)" \
	bash -c "[[ '$cookie' =~ ^[A-Za-z0-9_-]{43}$ ]]"
for flag in HttpOnly Secure SameSite=Strict Path=/; do
	check "the cookie is $flag" grep -q "^Set-Cookie: agentbox_session=.*; $flag" "$T/head"
done
C="Cookie: agentbox_session=$cookie"
check "with the cookie vnc.html is served (200)" test "$(st -H "$C" "$U/vnc.html")" = 200
check "with the cookie the WebSocket opens (101)" test "$(upgrade -H "Origin: $U" -H "$C")" = 101
check "with the cookie but another site's Origin: 403" \
	test "$(upgrade -H 'Origin: http://evil.example' -H "$C")" = 403
head -c 9000 /dev/zero | tr '\0' a >"$T/big"
check "a request body over 8 KiB refused (413)" \
	test "$(st -H "Origin: $U" --data-binary "@$T/big" "$U/login")" = 413
check "a chunked body refused (411)" \
	test "$(st -H "Origin: $U" -H 'Transfer-Encoding: chunked' --data-binary password=x "$U/login")" = 411

# the limit: DAUTH_FREE_FAILURES (5) failures, then 1 s, 2 s, ...
for i in 1 2 3 4 5; do login "wrong-$i" >/dev/null; done
check "after 5 failures even the right password gets 429" test "$(login "$PW")" = 429
check "... with Retry-After" grep -qi '^Retry-After: 1' "$T/head"
check "... and the lockout is logged" grep -q 'locked for 1 s' "$T/display.log"
sleep 1.2
check "after the wait the right password works again" test "$(login "$PW")" = 303
login wrong-again >/dev/null
check "a success cleared the count: one failure later the password works" test "$(login "$PW")" = 303

# 100 clients that send half a login and stall (more than the 32 places
# for unauthenticated connections and the 96 in all): a user still logs in
timeout 30 python3 - "$WEB" >"$T/stall.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("POST /login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 100\r\n\r\n"
               "password=abc" % port).encode())
    held.append(s)
print("HELD", len(held), flush=True)
time.sleep(8)
PY
STALL=$!
check "100 clients sent half a login each" wait_for 10 grep -q '^HELD 100' "$T/stall.out"
check "100 stalled half-logins: the right password still logs in" test "$(login "$PW")" = 303
kill $STALL 2>/dev/null
wait $STALL 2>/dev/null

check "logout: 303 to the login page" \
	test "$(curl -s -o /dev/null -D "$T/head" -m 5 -w '%{http_code}' -X POST -H "Origin: $U" -H "$C" "$U/logout")" = 303
check "logout clears the cookie" grep -q '^Set-Cookie: agentbox_session=; Max-Age=0' "$T/head"
check "after logout the old cookie gets the login page (303)" test "$(st -H "$C" "$U/vnc.html")" = 303
check "RFB on loopback is not behind the web login" "$PROBE" check 127.0.0.1 $RFB 208040

if [ -x /usr/bin/chromium ] && [ -d "$DISPLAY_TESTS/node_modules/playwright-core" ] &&
	[ -f /usr/share/novnc/vnc.html ]; then
	out=$(PORT=$WEB LOGIN=$PW OUT=$T novnc login 208040)
	check "Chromium: login page, then the screen ($out)" grep -q '^OK login' <<<"$out"
	check "Chromium keeps the cookie HttpOnly, Secure, SameSite=Strict" \
		grep -q 'httpOnly=true secure=true sameSite=Strict path=/ ' <<<"$out"
	cp "$T/login.png" "$BUILD/test-logs/webauth-login.png" 2>/dev/null
	out=$(PORT=$WEB LOGIN=not-the-password OUT=$T novnc login-refused)
	check "Chromium: a wrong password stays on the login page ($out)" \
		grep -q '^OK refused "Wrong password."' <<<"$out"
	out=$(PORT=$WEB LOGIN=$PW novnc logout)
	check "Chromium: sign out closes the screen ($out)" grep -q '^OK signed out' <<<"$out"
	check "the logout closed the WebSocket" grep -q 'its session ended' "$T/display.log"
	out=$(PORT=$WEB LOGIN=$PW novnc login-limit 5)
	check "Chromium: after 5 wrong passwords the right one waits, then works ($out)" \
		grep -q '^OK "Too many wrong passwords: try again in 1 s.", then the screen' <<<"$out"
else
	skip "Chromium login checks: needs chromium, playwright-core and novnc"
fi
check "the password is in no log line" bash -c "! grep -qF -- '$PW' '$T/display.log'"
check "stops cleanly on SIGTERM" stops_cleanly "$T/display.log"

# Off loopback, over TLS, in a namespace of our own
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v openssl >/dev/null; then
	skip "TLS on a public address: needs root, ip and openssl"
	finish
fi
NS=webauth-$$
ip netns add $NS || { skip "cannot create a network namespace"; finish; }
at_exit "ip netns del $NS"
ip -n $NS link set lo up
ip -n $NS addr add 169.254.78.1/32 dev lo
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=169.254.78.1 -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
chmod 600 "$T/key.pem"
conf "$T/tls.json" ", \"listen\": \"169.254.78.1\", \"web_password_file\": \"$T/webpw\", \"tls_cert_file\": \"$T/cert.pem\", \"tls_key_file\": \"$T/key.pem\""
ip netns exec $NS "$BIN/agentbox-display" --config "$T/tls.json" >"$T/tls.log" 2>&1 &
DPID=$!
at_exit "kill $DPID"
check "public address with the web password and TLS serves" wait_for 15 served "$T/tls.log"
V=https://169.254.78.1:$WEB
nst() { ip netns exec $NS curl -sk -o /dev/null -m 5 -w '%{http_code}' "$@"; }
check "off loopback: vnc.html without a session goes to login (303)" test "$(nst "$V/vnc.html")" = 303
check "off loopback: the WebSocket without a session: 401" \
	test "$(nst -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H "Origin: $V" "$V/websockify")" = 401
out=$(WS_HOST=169.254.78.1 WS_TLS=1 ip netns exec $NS timeout 60 python3 "$TOP/tests/display/ws-cycle.py" $WEB 1 2>&1)
check "off loopback: a WebSocket client without a login gets nothing ($out)" \
	bash -c "! grep -q '^OK' <<<'$out'"
check "off loopback: a wrong password: 401" \
	test "$(nst -H "Origin: $V" --data-urlencode 'password=nope' "$V/login")" = 401
check "off loopback: the right password: 303" \
	test "$(nst -H "Origin: $V" --data-urlencode "password=$PW" "$V/login")" = 303
if [ -x /usr/bin/chromium ] && [ -d "$DISPLAY_TESTS/node_modules/playwright-core" ] &&
	[ -f /usr/share/novnc/vnc.html ]; then
	out=$(cd "$DISPLAY_TESTS" && HOST=169.254.78.1 SCHEME=https PORT=$WEB LOGIN=$PW OUT=$T \
		ip netns exec $NS timeout 90 node novnc.js login 208040 2>&1)
	check "off loopback: Chromium logs in over https and sees the screen ($out)" \
		grep -q '^OK login httpOnly=true secure=true sameSite=Strict' <<<"$out"
	out=$(cd "$DISPLAY_TESTS" && HOST=169.254.78.1 SCHEME=https PORT=$WEB LOGIN=wrong-password OUT=$T \
		ip netns exec $NS timeout 90 node novnc.js login-refused 2>&1)
	check "off loopback: Chromium with a wrong password gets no screen ($out)" \
		grep -q '^OK refused' <<<"$out"
fi
check "off loopback: the password is in no log line" bash -c "! grep -qF -- '$PW' '$T/tls.log'"
finish
