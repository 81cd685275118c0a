#!/usr/bin/env bash
# agentbox-display side by side with x11vnc (+ websockify for the browser)
# and TigerVNC's x0vncserver (+ websockify), one after the other on the
# same Xvfb (1920x1080), same client and encodings (Tight, quality 6,
# compression 2, CopyRect, cursor pseudo-encodings):
#   idle    CPU of the server (and its websockify) over $IDLE_SECS with a
#           static screen and noVNC connected in headless Chromium, and the
#           server's wake-ups (context switches) per second;
#   latency X drawing request (root colour change) to the new pixel in the
#           libvncclient probe: p50/p95 over $CHANGES changes;
#   fps     updates/s the probe receives while x-painter repaints the whole
#           screen at 60 fps for $FPS_SECS, with the server's CPU;
#   bytes   bytes per update in both runs.
# Raw output: bench/out/display.txt. Needs the Debian packages of
# .ci/deps.d/display.apt and `make tests`.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BIN=$TOP/build/bin
PROBE=$TOP/build/tests/helpers/vnc-probe
PAINTER=$TOP/build/tests/helpers/x-painter
IDLE_SECS=${IDLE_SECS:-60}
CHANGES=${CHANGES:-200}
FPS_SECS=${FPS_SECS:-10}
D=:97
OUT=bench/out/display.txt
T=$(mktemp -d /tmp/agentbox-bench-display.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p bench/out
for c in Xvfb x11vnc X0tigervnc websockify node; do
	command -v $c >/dev/null || { echo "bench display: needs $c"; exit 1; }
done
[ -x "$PROBE" ] && [ -x "$PAINTER" ] || { echo "bench display: run make tests first"; exit 1; }
export VNC_ENCODINGS="tight copyrect"

Xvfb $D -screen 0 1920x1080x24 -nolisten tcp -noreset >/dev/null 2>&1 &
pids+=($!)
for i in $(seq 50); do DISPLAY=$D xsetroot -solid '#336699' 2>/dev/null && break; sleep 0.1; done

ticks() { # PIDS... -> utime+stime of all their threads
	local t=0 p
	for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done
	echo $t
}
switches() { # PID -> context switches of all its threads
	cat /proc/$1/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'
}
wait_port() { for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
pct() { awk -v t="$1" -v s="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", t / hz / s * 100}'; }

# measure NAME RFB-PORT WEB-PORT SERVER-PID [WEBSOCKIFY-PID]
measure() {
	local name=$1 rfb=$2 web=$3 spid=$4 wpid=${5:-} t0 t1 s0 s1 lat fps
	DISPLAY=$D xsetroot -solid '#336699'
	sleep 1
	# idle, noVNC connected
	(cd tests/display && PORT=$web timeout $((IDLE_SECS + 60)) node novnc.js hold $((IDLE_SECS + 3))) >"$T/hold" 2>&1 &
	local hpid=$!
	for i in $(seq 300); do grep -q READY "$T/hold" && break; sleep 0.1; done
	sleep 2
	t0=$(ticks $spid $wpid)
	s0=$(switches $spid)
	sleep "$IDLE_SECS"
	t1=$(ticks $spid $wpid)
	s1=$(switches $spid)
	wait $hpid
	grep -q 'OK held' "$T/hold" || echo "$name: noVNC did not stay connected: $(cat "$T/hold")"
	echo "$name idle_cpu_pct=$(pct $((t1 - t0)) "$IDLE_SECS") wakeups_per_s=$(awk -v a=$((s1 - s0)) -v s="$IDLE_SECS" 'BEGIN {printf "%.2f", a / s}')"
	# latency
	lat=$("$PROBE" latency 127.0.0.1 $rfb $D "$CHANGES")
	echo "$name $lat"
	# fps under a full-screen 60 fps painter
	"$PAINTER" $D $((FPS_SECS + 2)) 60 >"$T/painter" &
	local ppid=$!
	sleep 0.5
	t0=$(ticks $spid)
	fps=$("$PROBE" fps 127.0.0.1 $rfb "$FPS_SECS")
	t1=$(ticks $spid)
	wait $ppid
	echo "$name $fps server_cpu_pct=$(pct $((t1 - t0)) $((FPS_SECS + 1))) painter: $(cat "$T/painter")"
}

{
echo "# bench/display.sh $(date -u +%FT%TZ) $(nproc) cores; Xvfb 1920x1080x24; encodings: $VNC_ENCODINGS, quality 6, compression 2"
echo "# versions: $("$BIN/agentbox-display" --version); x11vnc $(dpkg-query -W -f='${Version}' x11vnc); x0vncserver $(dpkg-query -W -f='${Version}' tigervnc-scraping-server); websockify $(dpkg-query -W -f='${Version}' websockify)"

cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T"}, "display": {"x_display": "$D", "port": 5970, "web_port": 6070}}
JSON
"$BIN/agentbox-display" --config "$T/c.json" >"$T/agentbox.log" 2>&1 &
pid=$!
pids+=($pid)
wait_port 6070
measure agentbox-display 5970 6070 $pid
kill $pid; wait $pid 2>/dev/null

x11vnc -display $D -rfbport 5971 -localhost -shared -forever -nopw -quiet >"$T/x11vnc.log" 2>&1 &
pid=$!
pids+=($pid)
websockify --web /usr/share/novnc 127.0.0.1:6071 127.0.0.1:5971 >"$T/ws1.log" 2>&1 &
wpid=$!
pids+=($wpid)
wait_port 5971
wait_port 6071
measure x11vnc+websockify 5971 6071 $pid $wpid
kill $pid $wpid; wait $pid $wpid 2>/dev/null

# the x0vncserver wrapper (perl) runs this binary
X0tigervnc -display $D -rfbport 5972 -localhost=1 -SecurityTypes None >"$T/x0vnc.log" 2>&1 &
pid=$!
pids+=($pid)
websockify --web /usr/share/novnc 127.0.0.1:6072 127.0.0.1:5972 >"$T/ws2.log" 2>&1 &
wpid=$!
pids+=($wpid)
wait_port 5972
wait_port 6072
measure x0vncserver+websockify 5972 6072 $pid $wpid
kill $pid $wpid; wait $pid $wpid 2>/dev/null
} 2>&1 | tee "$OUT"
