# Helpers for tests/regress/init-*.sh and bench/init.sh (source after
# tests/lib.sh): a real dockerd of the test's own (data root, exec root and
# socket under $T, no bridge, no iptables) and real docker-registry
# instances on 127.0.0.1.
#   start_dockerd            sets $DOCKER_SOCK and exports DOCKER_HOST
#                            (DOCKERD_NETWORK: the bridge options, default --bridge=none)
#   start_registry NAME [HTPASSWD]   sets $REG_PORT
#   make_image REF [MIB]     imports a busybox-static rootfs (plus MIB of
#                            random data) as REF and pushes it
#   api METHOD PATH [CURL ARGS]      the Engine API, body on stdout
need_docker() {
	need_root
	need_cmd dockerd
	need_cmd docker-registry
	need_cmd docker
	need_cmd jq
	[ -x /bin/busybox ] || { skip "needs busybox-static"; exit 0; }
}

api() {
	local m=$1 p=$2
	shift 2
	curl -s --max-time 60 --unix-socket "$DOCKER_SOCK" -X "$m" "http://docker/v1.41$p" "$@"
}

_stop_dockerd() {
	local pid ids cpid
	ids=$(api GET '/containers/json?all=1' | jq -r '.[].Id' 2>/dev/null)
	for id in $ids; do api DELETE "/containers/$id?force=1" >/dev/null; done
	# dockerd started its own containerd (pid file under $T/exec)
	cpid=$(cat "$T/exec/containerd/containerd.pid" 2>/dev/null)
	pid=$(cat "$T/docker.pid" 2>/dev/null)
	for p in $pid $cpid; do
		kill "$p" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	awk -v t="$T" '$2 ~ "^"t {print $2}' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
}

start_dockerd() {
	mkdir -p "$T/docker" "$T/exec"
	DOCKER_SOCK=$T/docker.sock
	export DOCKER_HOST=unix://$DOCKER_SOCK
	at_exit _stop_dockerd
	dockerd --data-root "$T/docker" --exec-root "$T/exec" --pidfile "$T/docker.pid" \
		--host "unix://$DOCKER_SOCK" ${DOCKERD_NETWORK:---bridge=none} --iptables=false --ip6tables=false \
		--ip-masq=false ${DOCKERD_STORAGE:+--storage-driver=$DOCKERD_STORAGE} \
		>"$T/dockerd.log" 2>&1 &
	if ! wait_for 40 curl -sf --unix-socket "$DOCKER_SOCK" http://docker/_ping; then
		fail "dockerd did not start in 40s"
		tail -20 "$T/dockerd.log"
		exit 1
	fi
}

# start_registry NAME [HTPASSWD_FILE]: serves $T/registry (shared by all).
# A port taken between the check and the bind is tried again elsewhere.
start_registry() {
	local name=$1 port pid try
	for try in 1 2 3; do
		port=$(free_port) || { fail "no free port"; exit 1; }
		{
			echo "version: 0.1"
			echo "storage: {filesystem: {rootdirectory: $T/registry}}"
			echo "http: {addr: 127.0.0.1:$port}"
			echo "log: {level: error}"
			[ -n "${2:-}" ] && echo "auth: {htpasswd: {realm: test, path: $2}}"
		} >"$T/registry-$name.yml"
		docker-registry serve "$T/registry-$name.yml" >"$T/registry-$name.log" 2>&1 &
		pid=$!
		at_exit "kill $pid"
		for _ in $(seq 1 200); do # 20 s
			kill -0 "$pid" 2>/dev/null || break
			if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
				REG_PORT=$port
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null
	done
	fail "registry $name did not start"
	cat "$T/registry-$name.log"
	exit 1
}
# make_image REF [MIB]
make_image() {
	local ref=$1 mib=${2:-0} root=$T/rootfs-$RANDOM
	mkdir -p "$root/bin" "$root/tmp"
	cp /bin/busybox "$root/bin/"
	for a in sh ls cat sleep echo test; do ln -s busybox "$root/bin/$a"; done
	[ "$mib" -gt 0 ] && head -c "$((mib * 1024 * 1024))" /dev/urandom >"$root/data"
	tar -C "$root" -cf "$root.tar" . && rm -rf "$root"
	docker import "$root.tar" "$ref" >/dev/null && docker push "$ref" >"$T/push.log" 2>&1 || {
		fail "make_image $ref"
		cat "$T/push.log"
		exit 1
	}
	rm -f "$root.tar"
	docker rmi "$ref" >/dev/null
}
