#!/usr/bin/env bash
# The documented reverse proxy: agentbox-display on loopback, Debian's
# Caddy in front with its internal CA (HTTPS) and basic auth. noVNC in
# Chromium goes through Caddy (https + wss, WebSocket upgrade proxied,
# Origin check passing through); no credentials, no page.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/display/lib-display.sh"
need_display_tools
need_cmd caddy
need_cmd curl

D=:357 RFB=35070 WEB=35071 TLS=35072
cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T"},
 "display": {"x_display": "$D", "port": $RFB, "web_port": $WEB, "geometry": "1024x768"}}
JSON
start_xvfb $D 1024x768
DISPLAY=$D xsetroot -solid '#6040a0'
start_display "$T/c.json" "$T/display.log"
check "serves on loopback" wait_for 15 served "$T/display.log"

hash=$(caddy hash-password --plaintext 'proxy-pw-1')
cat >"$T/Caddyfile" <<CADDY
{
	admin off
	skip_install_trust
	http_port 35073
	https_port $TLS
	storage file_system $T/caddy-data
}
https://127.0.0.1:$TLS {
	tls internal
	basicauth {
		agent $hash
	}
	reverse_proxy 127.0.0.1:$WEB
}
CADDY
HOME=$T XDG_DATA_HOME=$T XDG_CONFIG_HOME=$T caddy run --adapter caddyfile --config "$T/Caddyfile" >"$T/caddy.log" 2>&1 &
CPID=$!
at_exit "kill $CPID; wait $CPID"
up() { curl -sk -o /dev/null -m 2 "https://127.0.0.1:$TLS/"; }
check "Caddy is up" wait_for 20 up
code() { curl -sk -o /dev/null -m 5 -w '%{http_code}' "$@"; }
check "without credentials: 401" test "$(code https://127.0.0.1:$TLS/vnc.html)" = 401
check "with credentials: vnc.html (200)" test "$(code -u agent:proxy-pw-1 https://127.0.0.1:$TLS/vnc.html)" = 200
if [ -x /usr/bin/chromium ] && [ -d "$DISPLAY_TESTS/node_modules/playwright-core" ]; then
	out=$(SCHEME=https PORT=$TLS HTTP_USER=agent HTTP_PASSWORD=proxy-pw-1 OUT=$T novnc pixel 6040a0)
	check "noVNC through Caddy (https, wss, basic auth) shows the screen ($out)" grep -q '^OK pixel' <<<"$out"
	out=$(SCHEME=https PORT=$TLS novnc refused)
	check "noVNC through Caddy without credentials gets no page" grep -q '^OK\|ERR_INVALID_AUTH_CREDENTIALS' <<<"$out"
else
	skip "noVNC through Caddy: needs chromium and playwright-core"
fi
check "stops cleanly on SIGTERM" stops_cleanly "$T/display.log"
finish
