#!/usr/bin/env bash
# The metadata service is out of the workspace container's reach
# (workspace.block_metadata, initd/initd-firewall.c), in namespaces of the
# test's own: a "cloud" namespace serves user-data on 169.254.169.254 (and
# something else on 169.254.77.2), the "VM" namespace routes to it and runs
# the test's dockerd with a link-local bridge, agentbox-init and the
# monitor. Nothing here touches the host's network.
#   - without the block (block_metadata: false) the container reads the
#     user-data: the probe can see a reachable service;
#   - with it, the container cannot, while the VM's own processes can and
#     the container still reaches other addresses; a second run adds
#     nothing; rules lost (a reboot) come back even for a running container;
#   - without CAP_NET_ADMIN agentbox-init refuses to start the container;
#   - `agentbox keepalive` inside the container holds the workspace (the
#     monitor sees it through the mounted keepalive.d).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
need_docker
need_cmd ip
need_cmd nft
need_cmd setpriv

if [ -z "${IMAGE_MD_INNER:-}" ]; then
	vm=image-md$$ cloud=image-cl$$
	ip netns add "$vm" 2>/dev/null || { skip "cannot create a network namespace"; exit 0; }
	at_exit "ip netns del $vm"
	ip netns add "$cloud" && at_exit "ip netns del $cloud"
	ip -n "$vm" link set lo up
	ip -n "$cloud" link set lo up
	ip -n "$cloud" addr add 169.254.169.254/32 dev lo
	ip link add imv$$ netns "$vm" type veth peer name imc$$ netns "$cloud"
	at_exit "ip -n $cloud link del imc$$"
	ip -n "$vm" addr add 169.254.77.1/24 dev imv$$
	ip -n "$cloud" addr add 169.254.77.2/24 dev imc$$
	ip -n "$vm" link set imv$$ up
	ip -n "$cloud" link set imc$$ up
	ip -n "$vm" route add 169.254.169.254/32 via 169.254.77.2
	# the containers' bridge (dockerd --bip below) is reached back through the VM
	ip -n "$cloud" route add 169.254.124.0/24 via 169.254.77.1
	ip netns exec "$vm" sysctl -qw net.ipv4.ip_forward=1
	mkdir -p "$T/md/latest"
	echo "hcloud-token-not-for-agents" >"$T/md/latest/user-data"
	ip netns exec "$cloud" python3 -m http.server 80 --bind 0.0.0.0 --directory "$T/md" \
		>"$T/md.log" 2>&1 &
	at_exit "kill $!"
	# nsenter, not "ip netns exec": that one mounts a sysfs of the namespace
	# over /sys, hiding the cgroup mounts dockerd needs
	nsenter --net=/run/netns/"$vm" env IMAGE_MD_INNER=1 "$0" "$@"
	exit $?
fi

export DOCKERD_NETWORK=--bip=169.254.124.1/24
start_dockerd
wait_for 10 curl -sf http://169.254.169.254/latest/user-data ||
	{ fail "the fake metadata service answers the VM"; finish; }

# A busybox image with every applet, the image's `agentbox` and a user
# like the workspace image's.
start_registry md
IMG=127.0.0.1:$REG_PORT/image/probe:1
root=$T/probe-root
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/usr/local/bin"
cp /bin/busybox "$root/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
cp "$TOP/images/workspace/agentbox" "$root/usr/local/bin/"
printf 'root:x:0:0::/root:/bin/sh\nagent:x:2345:2345::/home/agent:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nagent:x:2345:\n' >"$root/etc/group"
tar -C "$root" -cf "$root.tar" . && docker import "$root.tar" "$IMG" >/dev/null &&
	docker push "$IMG" >"$T/push.log" 2>&1 || { fail "probe image"; cat "$T/push.log"; finish; }

H=$T/home/agent
mkdir -p "$H"
# config NAME [EXTRA top-level members]
config() {
	jq -n --arg home "$H" --arg image "$IMG" --arg sock "$DOCKER_SOCK" --arg run "$T/run" \
		--arg state "$T/state" --argjson extra "{${2:-}}" \
		'{workspace: {name: "md", home: $home, image: $image, command: ["sleep", "100000"],
		  ports: [], docker_host: $sock, pull_retries: 0}, runtime_dir: $run,
		  state_dir: $state, provider: {name: "none"},
		  idle: {interval: "1s"}} * $extra' >"$T/$1.json"
}
INIT() { "$BIN/agentbox-init" --services=none -c "$T/$1.json" >"$T/out" 2>"$T/err"; }
# what the container gets from ADDRESS (empty when nothing answers)
probe() {
	docker exec agentbox-md sh -c "printf 'GET /latest/user-data HTTP/1.0\r\n\r\n' |
		nc -w 3 $1 80 2>/dev/null" | tail -1
}
rules() { nft -a list chain inet agentbox metadata 2>/dev/null | grep -c 'reject'; }

config open '"workspace": {"block_metadata": false}'
INIT open
check "block_metadata false: exit 0 with a warning" \
	bash -c "[ $? -eq 0 ] && grep -q 'block_metadata is false: agents in container agentbox-md can read' '$T/err'"
check "without the block the container reads the user-data (the probe works)" \
	[ "$(probe 169.254.169.254)" = hcloud-token-not-for-agents ]
check "without the block no table is made" bash -c "! nft list table inet agentbox >/dev/null 2>&1"
docker rm -f agentbox-md >/dev/null

config blocked
INIT blocked
check "blocked: exit 0" [ $? -eq 0 ]
check "blocked: the container cannot reach 169.254.169.254" [ -z "$(probe 169.254.169.254)" ]
check "blocked: the rule counted the container's packets" \
	bash -c "nft list chain inet agentbox metadata | grep -q 'counter packets [1-9]'"
check "blocked: the VM's own processes still reach it" \
	[ "$(curl -s --max-time 5 http://169.254.169.254/latest/user-data)" = hcloud-token-not-for-agents ]
check "blocked: the container still reaches other addresses of the cloud" \
	[ "$(probe 169.254.77.2)" = hcloud-token-not-for-agents ]
check "blocked: one rule for IPv4, one for IPv6" [ "$(rules)" = 2 ]
INIT blocked
check "second run: exit 0, still two rules" bash -c "[ $? -eq 0 ] && [ \"\$(nft -a list chain inet agentbox metadata | grep -c reject)\" = 2 ]"

# a reboot: the rules are gone and Docker has restarted the container
nft delete table inet agentbox
check "rules gone: the container reaches the service again (the probe can fail)" \
	[ "$(probe 169.254.169.254)" = hcloud-token-not-for-agents ]
INIT blocked
check "rules gone: agentbox-init puts them back for the running container" \
	bash -c "grep -q 'already running' '$T/out' && [ -z \"\$(docker exec agentbox-md sh -c \"printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 169.254.169.254 80\" 2>/dev/null)\" ]"

# at boot, before dockerd: --firewall-only puts the table in place, alone
nft delete table inet agentbox
"$BIN/agentbox-init" --firewall-only -c "$T/blocked.json" >"$T/out" 2>"$T/err"
check "--firewall-only: exit 0, the two rules, nothing else done" \
	bash -c "[ $? -eq 0 ] && [ \"\$(nft -a list chain inet agentbox metadata | grep -c reject)\" = 2 ] && ! grep -q Pulling '$T/err'"

# cannot put it in place: a running container is stopped, none is started
nft delete table inet agentbox
setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
	"$BIN/agentbox-init" --services=none -c "$T/blocked.json" >"$T/out" 2>"$T/err"
rc=$?
check "no CAP_NET_ADMIN: exit 7 and one line saying what to do" \
	bash -c "[ $rc -eq 7 ] && grep -q 'Cannot block the metadata service for container agentbox-md (nftables: .*); not running it' '$T/err'"
check "no CAP_NET_ADMIN: the running container is stopped, and says so" \
	bash -c "[ \"\$(curl -s --unix-socket '$DOCKER_SOCK' http://docker/containers/agentbox-md/json | jq -r .State.Running)\" = false ] && grep -q 'Stopped container agentbox-md, which ran without the block' '$T/err'"
setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
	"$BIN/agentbox-init" --services=none -c "$T/blocked.json" >"$T/out" 2>"$T/err"
check "no CAP_NET_ADMIN: a stopped container is not started (exit 7)" \
	bash -c "[ $? -eq 7 ] && [ \"\$(curl -s --unix-socket '$DOCKER_SOCK' http://docker/containers/agentbox-md/json | jq -r .State.Running)\" = false ]"

# keepalive from inside, with the monitor running (foreground services)
"$BIN/agentbox-init" --services=foreground -c "$T/blocked.json" >"$T/fg.out" 2>"$T/fg.err" &
fg=$!
at_exit "kill $fg"
wait_for 30 grep -q "is ready" "$T/fg.out"
check "keepalive.d is mounted at the same path" \
	bash -c "docker exec agentbox-md sh -c 'echo \$AGENTBOX_KEEPALIVE_DIR' | grep -qx '$T/run/keepalive.d'"
wait_for 10 bash -c "[ \"\$(stat -c %a '$T/run/keepalive.d')\" = 1777 ]"
docker exec -u 2345 agentbox-md agentbox keepalive 2h --reason "long build" >"$T/ka.out" 2>&1
check "agentbox keepalive inside: accepted" grep -q "Workspace held for 2h by agent" "$T/ka.out"
status() { "$BIN/agentbox" -c "$T/blocked.json" status; }
check "the monitor holds the workspace for the container's user" \
	wait_for 15 bash -c "'$BIN/agentbox' -c '$T/blocked.json' status | grep -q 'keepalive: .*agent until .*long build'"
docker exec -u 2345 agentbox-md agentbox keepalive --clear >"$T/ka.out" 2>&1
check "agentbox keepalive --clear inside: the file is gone" \
	bash -c "grep -q 'Keepalive of agent cleared' '$T/ka.out' && [ ! -e '$T/run/keepalive.d/agent' ]"
kill -TERM "$fg"
wait_for 30 bash -c "! kill -0 $fg"
finish
