# The simulated VMs (source after lib-cloud.sh and lib-vmroot.sh). A VM is
# a systemd container of the test's dockerd, started with exactly the flags
# of FACTS.md "Docker and a whole VM" (never a bind mount of the host's
# /sys/fs/cgroup), --network none, then given a veth to the cloud
# namespace. Its disk is host ext4 under $T/vm<N>/ bind-mounted where a VM
# keeps data: /home (fanotify works there, as on a VM disk), /var/lib/docker
# (the nested dockerd's overlay2) and /var/lib/agentbox.
#   vm_image               imports the cached Debian 12 root as $VM_IMAGE
#   vm_start N USER_DATA   boots VM N (server id 100N) with that user-data
#   vm_exec N CMD...       runs CMD in VM N (docker exec)
#   vm_wait_cloudinit N S  cloud-init finished within S seconds ("done" or not)
#   vm_journal N [ARGS]    journalctl in VM N
#   vm_gone N              the fake cloud removed VM N's container
VM_IMAGE=e2e-vm-root:$$

vm_image() {
	local start=$SECONDS
	vmroot_import "$VM_IMAGE" || { fail "the VM root could not be built or imported"; exit 1; }
	VM_IMPORT_SECONDS=$((SECONDS - start))
}

vm_name() { echo "e2e-vm$1-$$"; }
vm_id() { echo $((1000 + $1)); }
vm_addr() { echo "169.254.$((80 + $1)).2"; }

# The nested dockerd of a VM: a link-local bridge (ports of the workspace
# are published on the VM's 127.0.0.1, which needs a bridge; Docker's
# default 172.17.0.0/16 is a private range and must not appear) and the
# cloud's registry, which speaks plain HTTP.
_vm_platform_files() {
	local d=$1
	mkdir -p "$d/platform"
	cat >"$d/platform/daemon.json" <<-EOF
		{"bip": "169.254.124.1/24", "default-address-pools": [{"base": "169.254.128.0/17", "size": 24}],
		 "insecure-registries": ["$CLOUD_REGISTRY"]}
	EOF
	# The cloud's network is the platform's (the veth below): cloud-init
	# must not write a DHCP fallback for an interface it cannot configure.
	printf 'network: {config: disabled}\n' >"$d/platform/99-e2e-network.cfg"
}

vm_start() {
	local n=$1 userdata=$2 name d pid vv cv
	name=$(vm_name "$n")
	d=$T/vm$n
	mkdir -p "$d/home" "$d/docker" "$d/agentbox" "$d/seed"
	cp "$userdata" "$d/seed/user-data"
	printf 'instance-id: e2e-%s\nlocal-hostname: ws-e2e-%s\n' "$(vm_id "$n")" "$n" >"$d/seed/meta-data"
	_vm_platform_files "$d"
	at_exit "docker rm -f $name"
	docker run -d --name "$name" --hostname "ws-e2e-$n" --network none \
		--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
		--tmpfs /run --tmpfs /run/lock --cgroupns=private --tmpfs /sys/fs/cgroup \
		--stop-signal SIGRTMIN+3 -e container=docker \
		-v "$d/home:/home" -v "$d/docker:/var/lib/docker" -v "$d/agentbox:/var/lib/agentbox" \
		-v "$d/seed:/var/lib/cloud/seed/nocloud:ro" \
		-v "$d/platform/daemon.json:/etc/docker/daemon.json:ro" \
		-v "$d/platform/99-e2e-network.cfg:/etc/cloud/cloud.cfg.d/99-e2e-network.cfg:ro" \
		"$VM_IMAGE" /sbin/init >"$d/container-id" || { fail "VM $n did not start"; exit 1; }
	pid=$(docker inspect -f '{{.State.Pid}}' "$name")
	vv=e2e$$v$n cv=e2e$$c$n
	ip link add "$vv" type veth peer name "$cv" || { fail "veth for VM $n"; exit 1; }
	at_exit "ip -n $CLOUD_NS link del $cv"
	ip link set "$vv" netns "$pid"
	ip link set "$cv" netns "$CLOUD_NS"
	nsenter -t "$pid" -n ip link set "$vv" name eth0
	nsenter -t "$pid" -n ip addr add "$(vm_addr "$n")/24" dev eth0
	nsenter -t "$pid" -n ip link set eth0 up
	# Everything off the VM goes to the cloud namespace, which routes nowhere.
	nsenter -t "$pid" -n ip route add default via "169.254.$((80 + n)).1"
	in_cloud ip addr add "169.254.$((80 + n)).1/24" dev "$cv"
	in_cloud ip link set "$cv" up
	# The metadata service knows the server by its address.
	jq --arg a "$(vm_addr "$n")" --arg id "$(vm_id "$n")" --arg c "$name" --arg h "ws-e2e-$n" \
		'.[$a] = {id: $id, container: $c, name: $h}' "$CLOUD_DIR/servers.json" >"$CLOUD_DIR/servers.new" &&
		mv "$CLOUD_DIR/servers.new" "$CLOUD_DIR/servers.json"
}

vm_exec() {
	local n=$1
	shift
	docker exec "$(vm_name "$n")" "$@"
}

vm_pid() { docker inspect -f '{{.State.Pid}}' "$(vm_name "$1")"; }

# vm_wait_cloudinit N SECONDS: 0 once cloud-init says done, 1 on error or
# when the time is up (status in $T/vm<N>/cloud-init-status).
vm_wait_cloudinit() {
	local n=$1 s=$2 i st
	for ((i = 0; i < s * 2; i++)); do
		st=$(vm_exec "$n" cloud-init status 2>/dev/null | sed -n 's/^status: //p')
		case $st in
		done) vm_exec "$n" cloud-init status --long >"$T/vm$n/cloud-init-status" 2>&1; return 0 ;;
		error | degraded*) vm_exec "$n" cloud-init status --long >"$T/vm$n/cloud-init-status" 2>&1; return 1 ;;
		esac
		sleep 0.5
	done
	vm_exec "$n" cloud-init status --long >"$T/vm$n/cloud-init-status" 2>&1
	return 1
}

vm_journal() {
	local n=$1
	shift
	vm_exec "$n" journalctl --no-pager "$@"
}

vm_gone() { [ -e "$CLOUD_DIR/$(vm_name "$1").deleted" ] && ! docker inspect "$(vm_name "$1")" >/dev/null 2>&1; }
