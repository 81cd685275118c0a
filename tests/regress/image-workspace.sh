#!/usr/bin/env bash
# timeout: 2000
# The workspace image (images/workspace/Dockerfile), built on a local
# Debian 12 base (debootstrap, docker import; Ubuntu's archive is not
# reachable here) in a dockerd of the test's own, and started by
# agentbox-init as the workspace container: Claude Code, tmux (the
# entrypoint's session "main"), git, gh, node, python3 work inside; the
# user has the build's uid/gid and owns what it writes in the home; an X
# client inside draws a window on the host's Xvfb through the mounted
# /tmp/.X11-unix; docker stop ends it at once (tini passes SIGTERM on).
# The build is cached by the hash of its inputs (tests/image/lib-image.sh):
# the first run takes minutes, later ones about a minute.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
. "$TOP/tests/image/lib-image.sh"
need_docker
need_cmd debootstrap
need_cmd Xvfb
need_cmd xwininfo
start_dockerd

UID_=2345 GID_=2346
image_debian_base image-test/debian12:base || { fail "Debian base root"; finish; }

# add-user.sh on a base whose own user holds the numbers (ubuntu:24.04's
# "ubuntu" is 1000:1000; its archive is not reachable here to build on it)
adduser_in_base() {
	docker run --rm -v "$TOP/images/workspace/add-user.sh:/add-user.sh:ro" \
		image-test/debian12:base sh -c "$1" 2>&1
}
out=$(adduser_in_base 'groupadd -g 1000 ubuntu && useradd -m -u 1000 -g 1000 ubuntu &&
	/add-user.sh agent 1000 1000 /home/agent && id agent && ! getent passwd ubuntu &&
	stat -c %u:%g /home/agent')
check "add-user.sh: a base user holding the uid/gid makes way" \
	[ "$out" = "$(printf 'uid=1000(agent) gid=1000(agent) groups=1000(agent)\n1000:1000')" ]
out=$(adduser_in_base 'useradd -u 1500 agent && /add-user.sh agent 1000 1000 /home/agent')
check "add-user.sh: a user of that name with other numbers is refused" \
	bash -c "grep -q 'agent exists with other numbers' <<<'$out'"
if ! image_workspace image-test/workspace:built image-test/debian12:base \
	WORKSPACE_USER=agent WORKSPACE_UID=$UID_ WORKSPACE_GID=$GID_ WORKSPACE_HOME=/home/agent; then
	fail "the image builds"
	finish
fi
pass "the image builds"

# agentbox-init pulls workspace.image first; a registry nobody serves makes
# it use the local copy, with nothing leaving the machine.
dead=$(free_port)
IMG=127.0.0.1:$dead/image/workspace:test
docker tag image-test/workspace:built "$IMG"

# the host's screen: an Xvfb of our own on a free display
exec {dfd}<> <(:)
Xvfb -displayfd "$dfd" -screen 0 800x600x24 -nolisten tcp >"$T/xvfb.log" 2>&1 &
xpid=$!
at_exit "kill $xpid"
read -r -t 20 -u "$dfd" dnum || { fail "Xvfb did not start"; cat "$T/xvfb.log"; finish; }
exec {dfd}>&-
DISP=:$dnum

H=$T/home/agent
mkdir -p "$H" && chown "$UID_:$GID_" "$H"
jq -n --arg home "$H" --arg image "$IMG" --arg sock "$DOCKER_SOCK" --arg run "$T/run" \
	--arg state "$T/state" --arg disp "$DISP" \
	'{workspace: {name: "img", block_metadata: false, home: $home, image: $image, ports: [], docker_host: $sock,
	  pull_retries: 0}, runtime_dir: $run, state_dir: $state, provider: {name: "none"},
	  display: {x_display: $disp}}' >"$T/ws.json"
"$BIN/agentbox-init" --services=none -c "$T/ws.json" >"$T/out" 2>"$T/err"
rc=$?
check "agentbox-init starts the workspace container from the image" [ $rc -eq 0 ]
[ $rc -eq 0 ] || { cat "$T/err"; finish; }
inside() { docker exec agentbox-img "$@"; }
inside_sh() { docker exec agentbox-img sh -c "$1"; }

check "the entrypoint's tmux server holds session main" \
	wait_for 20 bash -c "docker exec agentbox-img tmux ls 2>/dev/null | grep -q '^main:'"
inside tmux send-keys -t main "echo typed-in-main > $H/from-tmux" Enter
check "a shell runs in session main (keys sent to it run)" \
	wait_for 10 grep -qx typed-in-main "$H/from-tmux"
ver=$(inside claude --version 2>&1)
check "claude --version: $ver" bash -c "grep -qE '^[0-9]+\.[0-9]+\.[0-9]+' <<<'$ver'"
check "git works" bash -c "docker exec -w '$H' agentbox-img sh -c 'git init -q r && git -C r -c user.email=a@b -c user.name=a commit -q --allow-empty -m x && git -C r log --oneline' | grep -q ' x$'"
check "gh works" bash -c "docker exec agentbox-img gh --version | grep -q '^gh version'"
check "node and npm work" bash -c "docker exec agentbox-img node -e 'console.log(6*7)' | grep -qx 42 && docker exec agentbox-img npm --version >/dev/null"
check "python3 works" bash -c "docker exec agentbox-img python3 -c 'print(6*7)' | grep -qx 42"
check "cc builds a program" bash -c "docker exec -w /tmp agentbox-img sh -c 'printf \"int main(void){return 0;}\" > t.c && cc -o t t.c && ./t'"
check "the user has the build's uid and gid" [ "$(inside id -u):$(inside id -g):$(inside id -un)" = "$UID_:$GID_:agent" ]
inside touch "$H/made-inside"
check "a file written inside the home belongs to the host's user" \
	[ "$(stat -c %u:%g "$H/made-inside")" = "$UID_:$GID_" ]
check "HOME is the host's home path, DISPLAY the configured display" \
	[ "$(inside_sh 'echo $HOME $DISPLAY')" = "$H $DISP" ]
check "tini is PID 1's child chain (signals and orphans handled)" \
	bash -c "docker exec agentbox-img ps -eo comm | grep -qx tini"

inside agentbox keepalive 1h >"$T/ka" 2>&1
check "agentbox keepalive without the monitor: refused, and says why" \
	bash -c "[ $? -eq 1 ] && grep -q 'is agentbox-monitor running on the VM' '$T/ka'"

# X: a client inside draws a window on the host's Xvfb
check "xdpyinfo inside reaches the host's Xvfb" \
	bash -c "docker exec agentbox-img xdpyinfo | grep -q 'dimensions: *800x600'"
inside_sh 'xeyes -title image-probe -geometry 120x120+10+10 >/dev/null 2>&1 &'
check "a window drawn inside appears on the host's screen" \
	wait_for 20 bash -c "DISPLAY=$DISP xwininfo -root -tree | grep -q '\"image-probe\"'"
check "the X socket directory is read-only inside" \
	bash -c "! docker exec agentbox-img touch /tmp/.X11-unix/X999 2>/dev/null"

start=$(date +%s%N)
docker stop -t 20 agentbox-img >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
check "docker stop ends the container in ${ms} ms (under 5 s: SIGTERM reaches tmux)" [ "$ms" -lt 5000 ]
finish
