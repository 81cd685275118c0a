#!/usr/bin/env bash
# The Docker daemon dies in the middle of agentbox-init's pull (SIGKILL of
# the test's own dockerd and its containerd while a layer downloads from
# the local registry) and comes back. agentbox-init must retry and finish
# with the complete image, or fail with a clear message; never a
# container from a half image. Then the same with a daemon that does not
# come back in time: one actionable line, the pull step's exit status, no
# container.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
need_docker
start_dockerd
start_registry open
IMG=127.0.0.1:$REG_PORT/test/big:1
make_image "$IMG" 150
PUSHED=$(sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p' "$T/push.log")
export AGENTBOX_LOG_FIELDS=1
# config NAME RETRIES
config() {
	jq -n --arg name "$1" --arg img "$IMG" --arg sock "$DOCKER_SOCK" --arg h "$T/home" \
		--arg sd "$T/state-$1" --arg run "$T/run-$1" --argjson retries "$2" \
		'{workspace: {name: $name, block_metadata: false, home: $h, image: $img,
		  command: ["sleep", "100000"], ports: [], docker_host: $sock, pull_retries: $retries},
		  state_dir: $sd, runtime_dir: $run, provider: {name: "none"}}' >"$T/$1.json"
}
# a layer being downloaded: dockerd writes it under its data root's tmp/
downloading() { find "$T/docker/tmp" -name 'GetImageBlob*' -size +1k 2>/dev/null | grep -q .; }
# kill_dockerd: SIGKILL to the daemon and its containerd (their pid files)
kill_dockerd() {
	local f p
	for f in "$T/docker.pid" "$T/exec/containerd/containerd.pid"; do
		p=$(cat "$f" 2>/dev/null) && [ -n "$p" ] && kill -9 "$p" 2>/dev/null &&
			wait_for 10 sh -c "! kill -0 $p"
	done
	wait_for 10 sh -c "! curl -sf --unix-socket $DOCKER_SOCK http://docker/_ping"
}
restart_dockerd() {
	rm -f "$T/docker.pid" "$DOCKER_SOCK"
	mv "$T/dockerd.log" "$T/dockerd.$RANDOM.log"
	dockerd --data-root "$T/docker" --exec-root "$T/exec" --pidfile "$T/docker.pid" \
		--host "unix://$DOCKER_SOCK" --bridge=none --iptables=false --ip6tables=false \
		--ip-masq=false >"$T/dockerd.log" 2>&1 &
	if ! wait_for 90 curl -sf --unix-socket "$DOCKER_SOCK" http://docker/_ping; then
		fail "dockerd did not start again in 90 s"
		grep -v grpc "$T/dockerd.log" | grep -v 'loading plugin' | cut -c1-300 | tail -30
		ps -ef | grep "[c]ontainerd.*$T"
		exit 1
	fi
}
not() { ! "$@"; }
not_ping() { ! curl -sf --unix-socket "$DOCKER_SOCK" http://docker/_ping >/dev/null; }
api_image_ok() { [ "$(api GET "/images/$IMG/json" | jq -r '.Id // empty')" != "" ]; }
no_container() { [ "$(api GET "/containers/json?all=1&filters=$(jq -rn --arg n "agentbox-$1" '{name: [$n]} | @uri')" | jq length)" = 0 ]; }

# 1. killed mid-pull, back within a second: init retries and succeeds
config ws 3
"$BIN/agentbox-init" --services=none -c "$T/ws.json" >"$T/out" 2>"$T/err" &
init=$!
if wait_for 60 downloading; then
	kill_dockerd
	check "the daemon is down mid-pull" not_ping
	restart_dockerd
else
	fail "the pull never started downloading"
fi
wait_for 180 sh -c "! kill -0 $init"
wait "$init"
rc=$?
grep -E 'Pulling|retry|failed|Pulled' "$T/err" | cut -c1-200
check "restarted mid-pull: agentbox-init exits 0" [ $rc -eq 0 ]
check "restarted mid-pull: the failed attempt is logged with a retry" grep -q "attempt 1 of 4, retrying" "$T/err"
check "restarted mid-pull: the image is the pushed one" \
	[ "$(api GET "/images/$IMG/json" | jq -r '.RepoDigests[0]' | sed 's/.*@//')" = "$PUSHED" ]
check "restarted mid-pull: the container runs from it" \
	[ "$(api GET /containers/agentbox-ws/json | jq -r '.State.Running')" = true ]
check "restarted mid-pull: the image's data is whole inside" \
	[ "$(docker exec agentbox-ws /bin/busybox stat -c %s /data)" = $((150 * 1024 * 1024)) ]
api DELETE "/containers/agentbox-ws?force=1" >/dev/null
api DELETE "/images/$IMG?force=1" >/dev/null

# 2. killed mid-pull, not back: a clear failure, no container
config gone 1
"$BIN/agentbox-init" --services=none -c "$T/gone.json" >"$T/out" 2>"$T/err" &
init=$!
if wait_for 60 downloading; then
	kill_dockerd
else
	fail "the second pull never started downloading"
fi
wait_for 120 sh -c "! kill -0 $init"
wait "$init"
rc=$?
grep -E 'Pulling|retry|failed|Docker' "$T/err" | cut -c1-200
check "daemon gone mid-pull: agentbox-init fails" [ $rc -ne 0 ]
check "daemon gone mid-pull: one line naming the Docker daemon" grep -qi "docker" <(grep '^<[0-3]>' "$T/err")
check "daemon gone mid-pull: the journal names the pull step" grep -q "AGENTBOX_STEP=pull" "$T/err"
restart_dockerd
check "daemon gone mid-pull: no container was created" no_container gone
check "daemon gone mid-pull: no half image is tagged" not api_image_ok
finish
