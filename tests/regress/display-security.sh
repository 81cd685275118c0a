#!/usr/bin/env bash
# The bind and password rules: anything but loopback without a password
# and TLS is refused with one line and exit 2; a wrong password is
# rejected (RFB probe and noVNC); a foreign Origin cannot open the
# WebSocket; a DNS-rebinding Host (with its own Origin) is refused on
# loopback, loopback names and display.allowed_hosts are served; paths
# cannot leave the noVNC directory; a request header over 16 KiB gets 431
# whether complete or not; with TLS on a non-loopback address (a
# link-local one in a network namespace of our own) https and wss work
# after the web login (display-webauth.sh tests the login itself), plain
# http does not, and only that address and the configured names are
# served as Host.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
need_display_tools

D=:353 RFB=35030 WEB=35031
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

printf 'secret12\n' >"$T/pw"
chmod 600 "$T/pw"
printf 'wrongpw\n' >"$T/wrong"
chmod 600 "$T/wrong"
refused "public address without password refused" ', "listen": "0.0.0.0"' 'display.listen: 0.0.0.0 is not a loopback address'
refused "public address with password but no TLS refused" ", \"listen\": \"0.0.0.0\", \"password_file\": \"$T/pw\"" 'display.listen'
refused "bad geometry refused" ', "geometry": "big"' 'display.geometry'
refused "cert without key refused" ", \"tls_cert_file\": \"$T/pw\"" 'tls_key_file'
chmod 644 "$T/pw"
refused "password file readable by others refused" ", \"password_file\": \"$T/pw\"" 'display.password_file'
chmod 600 "$T/pw"

start_xvfb $D 1024x768
DISPLAY=$D xsetroot -solid '#202080'
conf "$T/c.json" ", \"password_file\": \"$T/pw\", \"allowed_hosts\": [\"box.example.test\"]"
start_display "$T/c.json" "$T/display.log"
check "serves with a password" wait_for 15 served "$T/display.log"
VNC_PASSWORD_FILE=$T/wrong "$PROBE" check 127.0.0.1 $RFB 202080 >/dev/null 2>&1
check "wrong password rejected over RFB" test $? -ne 0
check "right password accepted over RFB" env VNC_PASSWORD_FILE="$T/pw" "$PROBE" check 127.0.0.1 $RFB 202080
if [ -x /usr/bin/chromium ] && [ -d "$DISPLAY_TESTS/node_modules/playwright-core" ]; then
	out=$(PORT=$WEB PASSWORD=wrongpw novnc refused)
	check "wrong password rejected in noVNC ($out)" grep -q '^OK' <<<"$out"
	out=$(PORT=$WEB PASSWORD=secret12 OUT=$T novnc pixel 202080)
	check "right password accepted in noVNC ($out)" grep -q '^OK pixel' <<<"$out"
else
	skip "noVNC password checks: needs chromium and playwright-core"
fi

upgrade() { # ORIGIN [HOST] -> HTTP status of a WebSocket upgrade
	curl -s -o /dev/null -m 5 -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
		-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
		${1:+-H "Origin: $1"} ${2:+-H "Host: $2"} "http://127.0.0.1:$WEB/websockify"
}
check "WebSocket from a foreign Origin refused (403)" test "$(upgrade http://evil.example)" = 403
check "WebSocket from the page's own Origin accepted (101)" test "$(upgrade http://127.0.0.1:$WEB)" = 101
# DNS rebinding: the attacker's name now points at 127.0.0.1 (or an SSH
# tunnel's end), so Host and Origin agree with each other
R=rebind.attacker.example:$WEB
check "WebSocket with a rebound Host and Origin refused (403)" test "$(upgrade http://$R $R)" = 403
check "page with a rebound Host refused (403)" \
	test "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Host: $R" http://127.0.0.1:$WEB/vnc.html)" = 403
check "the refusal is logged with the Host" grep -q "Host \"$R\"" "$T/display.log"
check "WebSocket as localhost accepted (101)" test "$(upgrade http://localhost:$WEB localhost:$WEB)" = 101
check "WebSocket as [::1] accepted (101)" test "$(upgrade "http://[::1]:$WEB" "[::1]:$WEB")" = 101
check "WebSocket as a display.allowed_hosts name accepted (101)" \
	test "$(upgrade http://box.example.test:$WEB box.example.test:$WEB)" = 101
header() { # SIZE complete|partial -> the status the server answers a header of SIZE bytes
	timeout 20 python3 - "$WEB" "$1" "$2" <<'PY'
import socket, sys
port, size, how = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
head = "GET /vnc.html HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Pad: " % port
pad = size - len(head) - (4 if how == "complete" else 0)
try:
    s.sendall((head + "a" * pad + ("\r\n\r\n" if how == "complete" else "")).encode())
except OSError:
    pass  # the server may answer and close before it has read everything
data = b""
while b"\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "none")
PY
}
check "a complete 1 MB request header refused (431)" test "$(header 1048576 complete)" = 431
check "an incomplete 1 MB request header refused (431)" test "$(header 1048576 partial)" = 431
check "a complete 17 KiB request header refused (431)" test "$(header 17408 complete)" = 431
check "a complete 15 KiB request header served (200)" test "$(header 15360 complete)" = 200
code() { curl -s -o /dev/null -m 5 -w '%{http_code}' --path-as-is "http://127.0.0.1:$WEB$1"; }
check "vnc.html served" test "$(code /vnc.html)" = 200
check "/../ refused" test "$(code /../../etc/passwd)" = 404
check "%2e%2e refused" test "$(code /app/%2e%2e/%2e%2e/etc/passwd)" = 404
check "hidden files refused" test "$(code /.git/config)" = 404
check "only GET and HEAD" test "$(curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST "http://127.0.0.1:$WEB/vnc.html")" = 405
check "stops cleanly on SIGTERM" stops_cleanly "$T/display.log"

# TLS on a non-loopback address, in a namespace of our own
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v openssl >/dev/null; then
	skip "TLS on a public address: needs root, ip and openssl"
	finish
fi
NS=display-sec$$
ip netns add $NS || { skip "cannot create a network namespace"; finish; }
at_exit "ip netns del $NS"
ip -n $NS link set lo up
ip -n $NS addr add 169.254.77.1/32 dev lo
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=169.254.77.1 -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
chmod 600 "$T/key.pem"
WEBPW=web-password-of-the-test
printf '%s\n' "$WEBPW" >"$T/webpw"
chmod 600 "$T/webpw"
conf "$T/tls.json" ", \"listen\": \"169.254.77.1\", \"password_file\": \"$T/pw\", \"web_password_file\": \"$T/webpw\", \"tls_cert_file\": \"$T/cert.pem\", \"tls_key_file\": \"$T/key.pem\", \"allowed_hosts\": [\"box.example.test\"]"
ip netns exec $NS "$BIN/agentbox-display" --config "$T/tls.json" >"$T/tls.log" 2>&1 &
TPID=$!
at_exit "kill $TPID"
check "public address with passwords and TLS serves" wait_for 15 served "$T/tls.log"
session=$(ip netns exec $NS curl -sk -D - -o /dev/null -m 5 -H "Origin: https://169.254.77.1:$WEB" \
	--data-urlencode "password=$WEBPW" https://169.254.77.1:$WEB/login |
	sed -n 's/^Set-Cookie: agentbox_session=\([^;]*\);.*/\1/p')
check "https serves vnc.html after the login" test "$(ip netns exec $NS curl -sk -o /dev/null -m 5 -w '%{http_code}' -H "Cookie: agentbox_session=$session" https://169.254.77.1:$WEB/vnc.html)" = 200
tls_host() { ip netns exec $NS curl -sk -o /dev/null -m 5 -w '%{http_code}' -H "Host: $1" -H "Cookie: agentbox_session=$session" https://169.254.77.1:$WEB/vnc.html; }
check "off loopback: a rebound Host refused (403)" test "$(tls_host rebind.attacker.example:$WEB)" = 403
check "off loopback: localhost is not a name of this display (403)" test "$(tls_host localhost:$WEB)" = 403
check "off loopback: a display.allowed_hosts name served (200)" test "$(tls_host box.example.test:$WEB)" = 200
ip netns exec $NS curl -s -o /dev/null -m 5 http://169.254.77.1:$WEB/vnc.html
check "plain http refused on the TLS port" test $? -ne 0
out=$(WS_HOST=169.254.77.1 WS_TLS=1 WS_SESSION=$session ip netns exec $NS timeout 60 python3 "$TOP/tests/display/ws-cycle.py" $WEB 5)
check "wss reaches the RFB greeting ($out)" grep -q '^OK 5' <<<"$out"
if [ -x /usr/bin/chromium ] && [ -d "$DISPLAY_TESTS/node_modules/playwright-core" ]; then
	out=$(cd "$DISPLAY_TESTS" && HOST=169.254.77.1 SCHEME=https PORT=$WEB PASSWORD=secret12 LOGIN=$WEBPW OUT=$T \
		ip netns exec $NS timeout 90 node novnc.js pixel 202080 2>&1)
	check "noVNC over https/wss with both passwords ($out)" grep -q '^OK pixel' <<<"$out"
fi
check "RFB port stays on loopback" env VNC_PASSWORD_FILE="$T/pw" ip netns exec $NS "$PROBE" check 127.0.0.1 $RFB 202080
ip netns exec $NS timeout 5 "$PROBE" check 169.254.77.1 $RFB 202080 >/dev/null 2>&1
check "RFB port not on the public address" test $? -ne 0
finish
