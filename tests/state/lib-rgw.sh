# A real S3 server for tests, benchmarks and demos: Ceph's RADOS Gateway
# (Debian 12: radosgw, ceph-mon, ceph-osd, ceph-common; Ceph 16.2) as a
# throwaway single-node cluster. tests/state/lib-state.sh sources it (after
# tests/lib.sh: $T, at_exit, wait_for, skip, fail; $HELPERS/s3-tool,
# $BUCKET): tests usually call start_s3, which calls start_rgw when
# S3_BACKEND=rgw (the default where ceph is installed); call start_rgw
# directly for another address or a network namespace.
#
#   start_rgw [ADDR [NETNS]]
#     ADDR   address every daemon binds (default 127.0.0.1), e.g. a
#            link-local 169.254.x.y of a "cloud" namespace
#     NETNS  run every daemon and ceph command in this network namespace
#            (ip netns exec NETNS ...); ports are then free in that one
#   $RGW_STORE=memstore (default: RAM, ready in ~2 s, keeps about twice the
#     data in RAM) | bluestore (a sparse file $RGW_DIR/osd-block of
#     $RGW_BLOCK_SIZE, default 24G; for benchmarks and large data)
#   $RGW_MEMSTORE_BYTES  memstore's limit (default 2G)
#
# One mon (msgr2 only), one OSD, radosgw (beast) on ADDR:<free port>, one
# user with generated keys and the bucket $BUCKET. Everything (config,
# keyrings, data, sockets, logs) is in $RGW_DIR, a new directory in $T; at
# exit the three daemons it started are stopped by pid (SIGTERM, SIGKILL
# after 10 s). No key or secret is ever in an argv. Sets, as start_s3 does:
#   $S3_ENDPOINT  http://ADDR:PORT       $S3_DIRECT   the same (no proxy)
#   $CREDS        0600 shared-credentials file with the user's keys
#   $S3           "s3-tool ENDPOINT us-east-1 BUCKET CREDS" (prefix it with
#                 ip netns exec NETNS when the server is in a namespace)
#   $S3_BACKEND=rgw, $RGW_DIR, $RGW_CONF (for ceph/radosgw-admin -c)
# On failure it prints the daemons' logs, FAILs and exits; without ceph it
# prints SKIP and exits 0. Every wait is bounded.
#
#   rgw_admin ARGS...  radosgw-admin on that cluster (bounded), e.g.
#                      rgw_admin user suspend --uid agentbox: a real
#                      failing store (403 UserSuspended) without a proxy

RGW_TIMEOUT=${RGW_TIMEOUT:-60}

have_rgw() {
	command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null &&
		command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null &&
		command -v ceph-authtool >/dev/null && command -v monmaptool >/dev/null &&
		command -v ceph >/dev/null
}

# _rgw_in CMD...: CMD in the cluster's namespace (if any). Daemons are
# started as "${RGW_IN[@]}" DAEMON & instead, so that $! is the daemon
# itself (ip netns exec execs it; a backgrounded function would be a
# subshell whose death leaves the daemon running).
_rgw_in() { "${RGW_IN[@]}" "$@"; }

_rgw_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		_rgw_in ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}

# _rgw_stop PID: SIGTERM, at most 10 s, then SIGKILL.
_rgw_stop() {
	kill "$1" 2>/dev/null || return 0
	wait_for 10 _rgw_not_running "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
_rgw_not_running() { ! kill -0 "$1" 2>/dev/null; }

_rgw_fail() {
	local f
	echo "RGW did not start: $*"
	for f in "$RGW_DIR"/log/*; do
		[ -s "$f" ] || continue
		echo "------- $f (last 30 lines)"
		tail -n 30 "$f"
	done
	fail "start_rgw: $*"
	exit 1
}

start_rgw() {
	local addr=${1:-127.0.0.1} fsid monport rgwport uuid secret id pid store=${RGW_STORE:-memstore}
	RGW_NETNS=${2:-}
	RGW_IN=()
	[ -n "$RGW_NETNS" ] && RGW_IN=(ip netns exec "$RGW_NETNS")
	have_rgw || { skip "needs Ceph's RADOS Gateway (radosgw ceph-mon ceph-osd ceph-common: make deps)"; exit 0; }
	command -v jq >/dev/null || { skip "needs jq"; exit 0; }
	[ -x "$HELPERS/s3-tool" ] || { fail "start_rgw: $HELPERS/s3-tool is not built"; exit 1; }
	RGW_DIR=$(mktemp -d "$T/rgw.XXXXXX") # a second cluster gets its own
	RGW_CONF=$RGW_DIR/ceph.conf
	mkdir -p "$RGW_DIR"/{mon,osd,rgw,run,log,crash}
	fsid=$(cat /proc/sys/kernel/random/uuid)
	monport=$(_rgw_port) && rgwport=$(_rgw_port) && [ "$monport" != "$rgwport" ] ||
		_rgw_fail "no free port"
	local objstore
	case $store in
	memstore) objstore="osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-2G}" ;;
	bluestore) objstore="osd objectstore = bluestore
bluestore block path = $RGW_DIR/osd-block
bluestore block create = true
bluestore block size = ${RGW_BLOCK_SIZE:-24G}
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mkfs = false
bluestore fsck on mount = false
osd memory target = 1G" ;;
	*) _rgw_fail "RGW_STORE=$store: memstore or bluestore" ;;
	esac
	# Why each setting: FACTS.md "Object storage". One copy of each object,
	# 8 PGs per pool, no host level in CRUSH; fast paxos, or every pool
	# radosgw creates costs ~2 s; a nearly full disk must not stop the mon.
	cat >"$RGW_CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:$addr:$monport
mon initial members = a
public addr = $addr
ms bind msgr1 = false
ms bind ipv6 = false
run dir = $RGW_DIR/run
admin socket = $RGW_DIR/run/\$name.asok
log file = $RGW_DIR/log/\$name.log
mon cluster log file = $RGW_DIR/log/cluster.log
crash dir = $RGW_DIR/crash
keyring = $RGW_DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 1
paxos propose interval = 0.01
paxos min wait = 0.01
auth allow insecure global id reclaim = false
[mon]
mon data = $RGW_DIR/mon
keyring = $RGW_DIR/mon/keyring
[osd]
osd data = $RGW_DIR/osd
keyring = $RGW_DIR/osd/keyring
$objstore
[client.rgw.a]
rgw frontends = beast endpoint=$addr:$rgwport
rgw data = $RGW_DIR/rgw
EOF
	local c=(-c "$RGW_CONF")
	# Keys: mon. and client.admin, and radosgw's, known to the mon from its mkfs.
	ceph-authtool "${c[@]}" --create-keyring "$RGW_DIR/mon.keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null &&
		ceph-authtool "${c[@]}" --create-keyring "$RGW_DIR/keyring" --gen-key -n client.admin \
			--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null &&
		ceph-authtool "${c[@]}" "$RGW_DIR/keyring" --gen-key -n client.rgw.a \
			--cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null &&
		ceph-authtool "${c[@]}" "$RGW_DIR/mon.keyring" --import-keyring "$RGW_DIR/keyring" >/dev/null &&
		chmod 600 "$RGW_DIR/keyring" "$RGW_DIR/mon.keyring" &&
		monmaptool --create --addv a "[v2:$addr:$monport]" --fsid "$fsid" "$RGW_DIR/monmap" >/dev/null &&
		ceph-mon "${c[@]}" --mkfs -i a --monmap "$RGW_DIR/monmap" --keyring "$RGW_DIR/mon.keyring" \
			>"$RGW_DIR/log/mkfs-mon.out" 2>&1 || _rgw_fail "the mon's keys or mkfs"
	"${RGW_IN[@]}" ceph-mon "${c[@]}" -f -i a >"$RGW_DIR/log/mon.out" 2>&1 &
	pid=$!
	at_exit "_rgw_stop $pid"
	# The OSD: an id from the mon, its key, its store, then the daemon.
	uuid=$(cat /proc/sys/kernel/random/uuid)
	secret=$(ceph-authtool --gen-print-key)
	id=$(echo "{\"cephx_secret\": \"$secret\"}" |
		_rgw_in timeout "$RGW_TIMEOUT" ceph "${c[@]}" --connect-timeout "$RGW_TIMEOUT" \
			osd new "$uuid" -i - 2>"$RGW_DIR/log/osd-new.out") || _rgw_fail "ceph osd new"
	(umask 077 && printf '[osd.%s]\n\tkey = %s\n' "$id" "$secret" >"$RGW_DIR/osd/keyring") &&
		_rgw_in timeout "$RGW_TIMEOUT" ceph-osd "${c[@]}" -i "$id" --mkfs --osd-uuid "$uuid" \
			>"$RGW_DIR/log/mkfs-osd.out" 2>&1 || _rgw_fail "ceph-osd --mkfs"
	"${RGW_IN[@]}" ceph-osd "${c[@]}" -f -i "$id" >"$RGW_DIR/log/osd.out" 2>&1 &
	pid=$!
	at_exit "_rgw_stop $pid"
	"${RGW_IN[@]}" radosgw "${c[@]}" -n client.rgw.a -f >"$RGW_DIR/log/rgw.out" 2>&1 &
	pid=$!
	at_exit "_rgw_stop $pid"
	# A user with generated keys: the secret never appears in an argv.
	local user
	user=$(_rgw_in timeout "$RGW_TIMEOUT" radosgw-admin "${c[@]}" user create --uid agentbox \
		--display-name agentbox 2>"$RGW_DIR/log/user-create.out") || _rgw_fail "radosgw-admin user create"
	CREDS=$T/credentials
	(umask 077 && jq -r '.keys[0] | "[default]\naws_access_key_id = \(.access_key)\naws_secret_access_key = \(.secret_key)"' \
		<<<"$user" >"$CREDS") || _rgw_fail "the user's keys"
	S3_ENDPOINT=http://$addr:$rgwport
	S3_DIRECT=$S3_ENDPOINT
	S3="$HELPERS/s3-tool $S3_ENDPOINT us-east-1 $BUCKET $CREDS"
	# Ready when a signed CreateBucket succeeds.
	S3_ATTEMPTS=1 wait_for "$RGW_TIMEOUT" _rgw_in $S3 mkbucket || _rgw_fail "no bucket $BUCKET at $S3_ENDPOINT"
	S3_BACKEND=rgw
}

rgw_admin() {
	_rgw_in timeout "$RGW_TIMEOUT" radosgw-admin -c "$RGW_CONF" "$@"
}
