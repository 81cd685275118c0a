#!/usr/bin/env bash
# agentbox-init against a real dockerd and real docker-registry instances:
# pull through the Engine API with parsed progress, the container's mounts,
# labels, ports and restart policy, idempotent second runs, a stopped
# container started again, and the promised error (line, exit status,
# journal step) for each bad input.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
need_docker
start_dockerd

start_registry open
REG=$REG_PORT
HASH=$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))')
echo "alice:$HASH" >"$T/htpasswd"
start_registry auth "$T/htpasswd"
AUTHREG=$REG_PORT
IMG=127.0.0.1:$REG/test/bb:1
make_image "$IMG"
PUSHED=$(sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p' "$T/push.log")

H=$T/home/agent
export AGENTBOX_LOG_FIELDS=1
# config NAME IMAGE [EXTRA workspace members, overriding]
config() {
	jq -n --arg name "$1" --arg image "$2" --arg home "$H" --arg sock "$DOCKER_SOCK" \
		--arg state "$T/state-$1" --argjson extra "{${3:-}}" \
		--arg run "$T/run-$1" \
		'{workspace: ({name: $name, home: $home, image: $image, command: ["sleep", "100000"],
		  ports: ["3000-3002", "8080"], docker_host: $sock, pull_retries: 1,
		  block_metadata: false} + $extra),
		  state_dir: $state, runtime_dir: $run, provider: {name: "none"}}' >"$T/$1.json"
}
# (block_metadata: in the host's network namespace here; init-metadata.sh
# tests it in namespaces of its own)
INIT() { "$BIN/agentbox-init" --services=none -c "$T/$1.json" >"$T/out" 2>"$T/err"; }
not_grep() { ! grep -q "$@"; }
not_cmd() { ! "$@"; }
inspect() { api GET "/containers/agentbox-$1/json"; }

# -- a first run: pull, create, start
mkdir -p "$H" && chown 4321:4321 "$H" # the workspace user's home
config ws "$IMG"
INIT ws
check "first run exits 0" [ $? -eq 0 ]
check "progress line for the finished layer, with bytes done = total" \
	grep -qE 'MESSAGE_ID=1a4c28eb846e4221ba1d9ebf3c67eac3 AGENTBOX_PULL_LAYERS=1 AGENTBOX_PULL_LAYERS_DONE=1 AGENTBOX_PULL_BYTES=([0-9]+) AGENTBOX_PULL_BYTES_TOTAL=\1 ' "$T/err"
check "summary names the pushed digest" grep -q "digest     $PUSHED" "$T/out"
check "summary shows how to connect and each step's time" \
	bash -c "grep -q 'connect    ssh agent@' '$T/out' && grep -q 'steps      config .*pull .*restore .*container' '$T/out'"
check "journal: MSGID_INIT_READY with the digest" \
	grep -q "MESSAGE_ID=9ab8bea0344940f38b1f2700e42fd411 .*AGENTBOX_IMAGE_DIGEST=$PUSHED" "$T/err"
inspect ws >"$T/c.json"
j() { jq -r "$1" "$T/c.json"; }
check "container running" [ "$(j .State.Running)" = true ]
check "container from the image" [ "$(j .Config.Image)" = "$IMG" ]
check "label agentbox.workspace" [ "$(j '.Config.Labels["agentbox.workspace"]')" = ws ]
check "restart policy unless-stopped" [ "$(j .HostConfig.RestartPolicy.Name)" = unless-stopped ]
check "home bind-mounted at the same path" [ "$(j '.HostConfig.Binds[0]')" = "$H:$H:rw" ]
check "the X socket directory mounted read-only, keepalive.d at the same path" \
	[ "$(j '.HostConfig.Binds[1:] | join(" ")')" = "/tmp/.X11-unix:/tmp/.X11-unix:ro $T/run-ws/keepalive.d:$T/run-ws/keepalive.d:rw" ]
check "no Docker socket unless asked" \
	[ "$(jq --arg s "$DOCKER_SOCK" '[.HostConfig.Binds[] | select(startswith($s))] | length' "$T/c.json")" = 0 ]
check "DISPLAY and AGENTBOX_KEEPALIVE_DIR set" \
	bash -c "jq -r '.Config.Env[]' '$T/c.json' | grep -qx 'DISPLAY=:1' && jq -r '.Config.Env[]' '$T/c.json' | grep -qx 'AGENTBOX_KEEPALIVE_DIR=$T/run-ws/keepalive.d'"
# the sandbox: no capabilities, no new privileges, limits
check "sandbox: every capability dropped, none added" \
	[ "$(j '.HostConfig.CapDrop | join(",")'):$(j '.HostConfig.CapAdd // [] | length')" = "ALL:0" ]
check "sandbox: no-new-privileges" [ "$(j '.HostConfig.SecurityOpt | join(",")')" = "no-new-privileges:true" ]
ram=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024))
check "sandbox: memory limited to 90% of the machine's by default" \
	bash -c "m=\$(jq .HostConfig.Memory '$T/c.json'); [ \$((m * 100 / $ram)) -ge 89 ] && [ \$((m * 100 / $ram)) -le 90 ]"
check "sandbox: 8192 pids by default, no CPU limit" \
	[ "$(j .HostConfig.PidsLimit):$(j .HostConfig.NanoCpus)" = "8192:0" ]
check "sandbox: inside, no effective or bounding capability and no_new_privs" \
	bash -c "docker exec agentbox-ws cat /proc/self/status | grep -E '^(CapEff|CapBnd|NoNewPrivs):' | tr -s '\t ' ' ' | sort | tr '\n' ' ' | grep -qx 'CapBnd: 0000000000000000 CapEff: 0000000000000000 NoNewPrivs: 1 '"
check "ports 3000-3002 and 8080 published on 127.0.0.1" \
	[ "$(j '[.HostConfig.PortBindings | to_entries[] | "\(.key)=\(.value[0].HostIp):\(.value[0].HostPort)"] | sort | join(",")')" = \
	"3000/tcp=127.0.0.1:3000,3001/tcp=127.0.0.1:3001,3002/tcp=127.0.0.1:3002,8080/tcp=127.0.0.1:8080" ]
check "working directory is the projects directory, created for the home's owner" \
	[ "$(j .Config.WorkingDir):$(stat -c %u:%g "$H/work")" = "$H/work:4321:4321" ]
if [ -e /dev/kvm ]; then
	check "/dev/kvm passed through" [ "$(j '.HostConfig.Devices[0].PathOnHost')" = /dev/kvm ]
fi
check "listed by label" [ "$(api GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22agentbox.workspace%3Dws%22%5D%7D' | jq length)" = 1 ]
echo hello >"$H/from-host"
check "the home is the same inside" [ "$(docker exec agentbox-ws cat "$H/from-host")" = hello ]
id1=$(j .Id) started1=$(j .State.StartedAt)

# -- a second run changes nothing
INIT ws
check "second run exits 0" [ $? -eq 0 ]
check "second run: already running" grep -q "agentbox-ws (already running" "$T/out"
inspect ws >"$T/c.json"
check "second run: same container, not restarted" \
	[ "$(j .Id) $(j .State.StartedAt)" = "$id1 $started1" ]

# -- under systemd: STATUS= while working, READY=1 at the end
python3 "$TOP/tests/notify-listen.py" "$T/notify.sock" "$T/notify.log" 60 &
at_exit "kill $!"
wait_for 5 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock INIT ws
check "sd_notify: STATUS= during the steps, then READY=1" \
	bash -c "grep -q '^STATUS=Pulling $IMG and restoring the state' '$T/notify.log' && grep -q '^READY=1' '$T/notify.log'"

# -- the tag moved to a new image: the running container is kept, with a warning
make_image "$IMG"
INIT ws
check "tag moved: container kept, the warning says how to move" \
	bash -c "grep -q 'agentbox-ws (already running' '$T/out' && grep -q 'Container agentbox-ws runs sha256:.*, but $IMG is now sha256:.*docker rm -f agentbox-ws' '$T/err'"

# -- a stopped container (a reboot, docker stop) is started, not recreated
api POST "/containers/agentbox-ws/stop?t=1" >/dev/null
INIT ws
check "stopped container started again" grep -q "agentbox-ws (started" "$T/out"
inspect ws >"$T/c.json"
check "same container after the restart" [ "$(j .Id)" = "$id1" ] && [ "$(j .State.Running)" = true ]

# -- without systemd: the monitor as a child, supervised until SIGTERM
jq --arg r "$T/run" '.runtime_dir = $r' "$T/ws.json" >"$T/fg.json"
"$BIN/agentbox-init" --services=foreground -c "$T/fg.json" >"$T/fg.out" 2>"$T/fg.err" &
fg=$!
at_exit "kill $fg"
wait_for 30 grep -q "is ready" "$T/fg.out"
check "foreground: ready, with the monitor started as a child" grep -q "Started .*agentbox-monitor (pid" "$T/fg.err"
mpid=$(sed -n 's/.*agentbox-monitor (pid \([0-9]*\)).*/\1/p' "$T/fg.err")
check "foreground: the monitor runs" kill -0 "${mpid:-0}"
kill -TERM "$fg"
wait_for 30 not_cmd kill -0 "$fg"
kill -9 "$fg" 2>/dev/null
wait "$fg"
rc=$?
check "foreground: SIGTERM stops the monitor, exit 0" bash -c "[ $rc -eq 0 ] && ! kill -0 ${mpid:-0} 2>/dev/null"

# -- no /dev/kvm (a /dev without it, in a mount namespace of our own):
# not passed through, and a warning when an Android emulator is configured
if [ -e /dev/kvm ] && command -v unshare >/dev/null; then
	config nokvm "$IMG" '"android_emulator": true, "ports": []'
	unshare -m bash -c '
		set -e
		mount --make-rprivate /
		mkdir -p "$1/dev"
		mount -t tmpfs tmpfs "$1/dev"
		for d in null zero urandom random; do touch "$1/dev/$d"; mount --bind /dev/$d "$1/dev/$d"; done
		mount --bind "$1/dev" /dev
		exec "$2" --services=none -c "$1/nokvm.json"' _ "$T" "$BIN/agentbox-init" >"$T/out" 2>"$T/err"
	rc=$?
	check "no /dev/kvm: a clear warning for the Android emulator" \
		bash -c "[ $rc -eq 0 ] && grep -q 'android_emulator is set but /dev/kvm is absent' '$T/err'"
	check "no /dev/kvm: no device passed through" \
		[ "$(inspect nokvm | jq '.HostConfig.Devices | length')" = 0 ]
fi

# -- another container with the workspace's label (renamed by hand): found
# by its label, left alone
docker create --name old-ws --label agentbox.workspace=ws "$IMG" sleep 1 >/dev/null
api DELETE "/containers/agentbox-ws?force=1" >/dev/null
INIT ws
check "container of the workspace under another name: found by label, left alone" \
	bash -c "grep -q 'Container old-ws also belongs to workspace ws' '$T/err' && grep -q 'agentbox-ws (created' '$T/out'"
api DELETE "/containers/old-ws?force=1" >/dev/null

# -- the Docker socket only when asked
config sock "$IMG" '"docker_socket": true, "ports": []'
INIT sock
inspect sock >"$T/c.json"
check "docker_socket: true mounts the socket" \
	[ "$(j '.HostConfig.Binds[-1]')" = "$DOCKER_SOCK:$DOCKER_SOCK:rw" ]

# -- configured limits and capabilities
config lim "$IMG" '"ports": [], "cpus": 1.5, "memory": "256m", "pids_limit": 100, "cap_add": ["NET_BIND_SERVICE"]'
INIT lim
check "limits: exit 0" [ $? -eq 0 ]
inspect lim >"$T/c.json"
check "limits: cpus 1.5, memory 256m, 100 pids, NET_BIND_SERVICE given back" \
	[ "$(j '[.HostConfig.NanoCpus, .HostConfig.Memory, .HostConfig.PidsLimit, (.HostConfig.CapAdd | join(","))] | join(" ")')" = \
	"1500000000 268435456 100 NET_BIND_SERVICE" ]
if [ -e /sys/fs/cgroup/pids ] || [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	check "limits: the pids limit holds inside (a 150-process burst is cut short)" \
		bash -c "docker exec agentbox-lim sh -c 'i=0; while [ \$i -lt 150 ]; do sleep 5 & i=\$((i+1)); done' 2>&1 | grep -qi 'fork\|resource\|again'"
fi
config nolim "$IMG" '"ports": [], "memory": "none", "pids_limit": 0'
INIT nolim
inspect nolim >"$T/c.json"
check "limits: memory none and pids_limit 0 set no limit" \
	[ "$(j '[.HostConfig.Memory, (.HostConfig.PidsLimit // 0)] | join(" ")')" = "0 0" ]

# -- a name taken by someone else's container
docker create --name agentbox-foreign "$IMG" sleep 1 >/dev/null
config foreign "$IMG"
INIT foreign
rc=$?
check "foreign container: exit 7 and says so" \
	bash -c "[ $rc -eq 7 ] && grep -q 'exists but is not agentbox' '$T/err'"

# -- a reboot while the registry is away: the local image will do
start_registry gone
GONE=$REG_PORT
GONE_PID=$!
config gone "127.0.0.1:$GONE/test/bb:1"
INIT gone
check "registry present: pulled and running" [ $? -eq 0 ]
kill "$GONE_PID"
wait_for 10 not_cmd curl -s -o /dev/null "http://127.0.0.1:$GONE/v2/"
api POST "/containers/agentbox-gone/stop?t=1" >/dev/null
INIT gone
rc=$?
check "registry gone on a reboot: the local image, a warning, exit 0" \
	bash -c "[ $rc -eq 0 ] && grep -q 'using the local copy of the image' '$T/err' && grep -q 'agentbox-gone (started' '$T/out'"

# -- bad inputs: one line each, a documented exit status, the failed step
failed_step() { grep -q "MESSAGE_ID=154eb8ade9bc4bdda07806da5ac94599 AGENTBOX_STEP=$1 AGENTBOX_EXIT=$2" "$T/err"; }

config missing "127.0.0.1:$REG/test/nope:1"
INIT missing
rc=$?
check "missing image: exit 4" [ $rc -eq 4 ]
check "missing image: one actionable line" grep -q "Image 127.0.0.1:$REG/test/nope:1 not found in its registry .*; check workspace.image" "$T/err"
check "missing image: journal says step pull" failed_step pull 4
check "missing image: not retried" not_grep attempts "$T/err"

printf '{"username": "alice", "password": "wrong"}\n' >"$T/badauth"
chmod 600 "$T/badauth"
config badauth "127.0.0.1:$AUTHREG/test/bb:1" "\"registry_auth_file\": \"$T/badauth\""
INIT badauth
rc=$?
check "wrong credentials: exit 4" [ $rc -eq 4 ]
check "wrong credentials: the line points at the auth file" \
	grep -q "Registry refused to serve 127.0.0.1:$AUTHREG/test/bb:1 (.*unauthorized.*); check the credentials in workspace.registry_auth_file" "$T/err"
check "wrong credentials: the password is not logged" not_grep wrong "$T/err" "$T/out"

printf 'alice:s3cret\n' >"$T/goodauth"
chmod 644 "$T/goodauth"
config goodauth "127.0.0.1:$AUTHREG/test/bb:1" "\"registry_auth_file\": \"$T/goodauth\""
INIT goodauth
check "auth file readable by others: exit 2" [ $? -eq 2 ]
check "auth file readable by others: says chmod" grep -q "registry_auth_file: .*chmod 0600" "$T/err"
chmod 600 "$T/goodauth"
INIT goodauth
check "right credentials (user:password file): pulled and running" [ $? -eq 0 ]
check "right credentials: the password is not logged" not_grep s3cret "$T/err" "$T/out"

dead=$(free_port)
config down "127.0.0.1:$dead/test/bb:1"
INIT down
rc=$?
check "registry down: exit 4 after retrying" \
	bash -c "[ $rc -eq 4 ] && grep -q 'unreachable after 2 attempts' '$T/err'"
check "registry down: the retry is logged" grep -q "attempt 1 of 2, retrying in 1s" "$T/err"

config nodocker "$IMG" "\"docker_host\": \"$T/no/docker.sock\""
INIT nodocker
rc=$?
check "Docker unreachable: exit 3, one line" \
	bash -c "[ $rc -eq 3 ] && grep -q 'Cannot reach the Docker daemon: $T/no/docker.sock' '$T/err'"
check "Docker unreachable: journal says step docker" failed_step docker 3

# identity: a provider whose metadata service cannot be reached (run in a
# network namespace of our own with only a loopback that is down: nothing
# leaves the machine)
ns=abinit$$
if ip netns add "$ns" 2>/dev/null; then
	at_exit "ip netns del $ns"
	config ident "$IMG" '"docker_host": "'"$DOCKER_SOCK"'"'
	jq '.provider = {name: "hetzner", metadata_retries: 0, metadata_timeout: "1s"}' "$T/ident.json" >"$T/ident2.json"
	ip netns exec "$ns" "$BIN/agentbox-init" --services=none \
		-c "$T/ident2.json" >"$T/out" 2>"$T/err"
	rc=$?
	check "identity unreachable: exit 9, one line" \
		bash -c "[ $rc -eq 9 ] && grep -q 'Learning the instance identity failed: .*provider.name' '$T/err'"
	check "identity unreachable: journal says step identity" failed_step identity 9
else
	skip "identity failure: cannot create a network namespace"
fi

echo '{"workspace": {"image": "x", "ports": ["3000-2000"]}}' >"$T/bad1.json"
INIT bad1
rc=$?
check "bad port range: exit 2 naming the key" \
	bash -c "[ $rc -eq 2 ] && grep -q 'workspace.ports: ' '$T/err'"
printf '{"workspace": {"home": "%s"}}\n' "$H" >"$T/bad2.json"
INIT bad2
rc=$?
check "no workspace.image: exit 2 naming the key" \
	bash -c "[ $rc -eq 2 ] && grep -q 'workspace.image: not set' '$T/err'"
check "bad config: journal says step config" failed_step config 2
echo '{"workspace": {"image": "x", "memory": "lots"}}' >"$T/bad3.json"
INIT bad3
rc=$?
check "bad workspace.memory: exit 2 naming the key and the forms" \
	bash -c "[ $rc -eq 2 ] && grep -q 'workspace.memory: expected a share .*\"lots\"' '$T/err'"

finish
