#!/usr/bin/env bash
# No space left: Docker's data root on a 24 MiB tmpfs, an image of 40 MiB;
# agentbox-init must say so in one line and exit 5.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
need_docker
mkdir -p "$T/docker"
mount -t tmpfs -o size=24m tmpfs "$T/docker" || { skip "cannot mount a tmpfs"; exit 0; }
at_exit "umount -l $T/docker"
start_dockerd
start_registry open
# the image is made by a second dockerd with room (the small one cannot import it)
BIG=$T/big
mkdir -p "$BIG"
(
	T=$BIG
	start_dockerd
	make_image "127.0.0.1:$REG_PORT/test/big:1" 40
	_stop_dockerd
)
export DOCKER_HOST=unix://$DOCKER_SOCK AGENTBOX_LOG_FIELDS=1
jq -n --arg img "127.0.0.1:$REG_PORT/test/big:1" --arg sock "$DOCKER_SOCK" --arg h "$T/home" \
	--arg sd "$T/state" \
	'{workspace: {name: "ns", block_metadata: false, home: $h, image: $img, command: ["sleep", "100000"], ports: [],
	  docker_host: $sock, pull_retries: 0}, state_dir: $sd, provider: {name: "none"}}' >"$T/c.json"
"$BIN/agentbox-init" --services=none -c "$T/c.json" >"$T/out" 2>"$T/err"
rc=$?
check "no space left: exit 5" [ $rc -eq 5 ]
check "no space left: one actionable line" \
	grep -q "No space left on device while pulling .*; free space under Docker's data root" "$T/err"
check "no space left: journal says step pull" \
	grep -q "MESSAGE_ID=154eb8ade9bc4bdda07806da5ac94599 AGENTBOX_STEP=pull AGENTBOX_EXIT=5" "$T/err"
[ $rc -eq 5 ] || cat "$T/err"
finish
