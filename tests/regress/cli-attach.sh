#!/usr/bin/env bash
# agentbox attach through the Engine API (no docker CLI): against the
# test's own dockerd and a tiny tmux image, in a pty: the command's output,
# the terminal's size at start and after SIGWINCH (tput cols), detach ends
# it with 0 while the session stays, a second attach finds the same
# session, and the refusals (no terminal, extra argument, no container).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
. "$TOP/tests/term/lib-term.sh"
need_docker
need_tmux_image_tools
need_cmd python3
DRIVE=$TOP/tests/term/pty-drive.py
start_dockerd
make_tmux_image termtest:tmux
start_workspace ws1
printf '{"workspace": {"name": "ws1", "user": "agent", "home": "/home/agent", "docker_host": "%s"}}\n' \
	"$DOCKER_SOCK" >"$T/c.json"
# no docker CLI may be used: a docker first in PATH that leaves a trace
mkdir -p "$T/bin"
printf '#!/bin/sh\ntouch "%s/docker-ran"\nexit 1\n' "$T" >"$T/bin/docker"
chmod 755 "$T/bin/docker"
ATTACH="env PATH=$T/bin:$PATH $BIN/agentbox --config $T/c.json attach"

$ATTACH </dev/null 2>"$T/err"
check "attach without a terminal: status 1" [ $? -eq 1 ]
check "attach without a terminal: says so" grep -q 'needs a terminal' "$T/err"
$ATTACH extra </dev/null 2>/dev/null
check "attach with an extra argument: status 2" [ $? -eq 2 ]

PTY_LOG=$T/pty1.log timeout 60 python3 "$DRIVE" 30 97 -- $ATTACH >"$T/drive1" 2>&1 <<'STEPS'
expect \[main\]
send echo he''llo-$((6*7)) as $(id -un)\r
expect hello-42 as agent
send tput cols; echo co''ls-done\r
expect 97\s+cols-done
resize 40 131
sleep 1
send tput cols; echo co''ls-again\r
expect 131\s+cols-again
send echo marker-$((2+3)) > /tmp/m\r
sleep 0.5
send \x02d
wait 15
STEPS
check "attach: runs tmux as the workspace user" grep -q 'OK hello-42 as agent' "$T/drive1"
check "attach: the terminal's size at start" grep -q 'OK 97' "$T/drive1"
check "attach: SIGWINCH resizes" grep -q 'OK 131' "$T/drive1"
check "attach: detaching ends it with status 0" grep -qx 'EXIT 0' "$T/drive1"
check "attach: the session stays after detaching" docker exec -u agent agentbox-ws1 tmux has-session -t main
PTY_LOG=$T/pty2.log timeout 60 python3 "$DRIVE" 30 97 -- $ATTACH --session main >"$T/drive2" 2>&1 <<'STEPS'
expect \[main\]
send cat /tmp/m\r
expect marker-5
send \x02d
wait 15
STEPS
check "attach: a second attach shares the session" grep -q 'OK marker-5' "$T/drive2"
# the SSH connection goes away (SIGHUP) or attach is told to stop
# (SIGTERM) while attached: the tmux client must not stay behind (dockerd
# keeps the exec's pty open after the stream closed)
no_clients() { [ -z "$(docker exec -u agent agentbox-ws1 tmux list-clients)" ]; }
for sig in HUP TERM; do
	timeout 60 python3 "$DRIVE" 30 97 -- $ATTACH >"$T/drive-$sig" 2>&1 <<STEPS
expect \[main\]
sleep 1
kill $sig
wait 15
STEPS
	check "attach: SIG$sig ends it with status 0" grep -qx 'EXIT 0' "$T/drive-$sig"
	check "attach: SIG$sig detaches its tmux client" wait_for 10 no_clients
done
[ -e "$T/docker-ran" ]
check "attach: never runs the docker CLI" [ $? -ne 0 ]

docker rm -f agentbox-ws1 >/dev/null
timeout 30 python3 "$DRIVE" 30 97 -- $ATTACH >"$T/drive3" 2>&1 <<'STEPS'
expect container agentbox-ws1
wait 15
STEPS
check "attach without the container: says which" grep -q 'OK container agentbox-ws1' "$T/drive3"
check "attach without the container: status 1" grep -qx 'EXIT 1' "$T/drive3"
for f in drive1 drive2 drive3; do grep -q TIMEOUT "$T/$f" && { echo "--- $f"; cat "$T/$f"; tail -c 600 "$T/pty1.log" | cat -v; }; done
finish
