# The simulated cloud of the end-to-end test (source after tests/lib.sh,
# tests/init/lib-docker.sh and tests/state/lib-state.sh). Everything lives in
# a network namespace of the test, $CLOUD_NS, whose lo holds the metadata
# address 169.254.169.254 and the cloud's service address $CLOUD_ADDR:
#   metadata + Hetzner API   tests/e2e/cloud.py (API on $CLOUD_API)
#   the bucket               Ceph RGW when tests/state/lib-rgw.sh can run it,
#                            else s3rver behind the SigV4-checking proxy
#   the registry             docker-registry on $CLOUD_ADDR:34050 ($CLOUD_REGISTRY)
#   the release server       the .deb on http://$CLOUD_ADDR:34081/ ($CLOUD_RELEASE)
# Each VM's namespace is linked to it by a veth pair (169.254.<80+n>.1 on the
# cloud side, .2 on the VM's), deleted at teardown. No private-range address
# is used, and nothing here has a route off the machine.
CLOUD_NS=e2e-cloud-$$
CLOUD_ADDR=169.254.77.7
CLOUD_API=http://$CLOUD_ADDR:34080/v1
CLOUD_REGISTRY=$CLOUD_ADDR:34050
CLOUD_RELEASE=http://$CLOUD_ADDR:34081
CLOUD_DIR=$T/cloud
in_cloud() { ip netns exec "$CLOUD_NS" "$@"; }

# cloud_start TOKEN: the namespace, the fake cloud, the registry (serving
# $T/registry, which start_registry's host-side instance fills), the
# release server (serving $CLOUD_DIR/release) and the bucket.
cloud_start() {
	mkdir -p "$CLOUD_DIR/release"
	ip netns add "$CLOUD_NS" || { fail "cannot create network namespace $CLOUD_NS"; exit 1; }
	at_exit "ip netns del $CLOUD_NS"
	in_cloud ip link set lo up
	in_cloud ip addr add 169.254.169.254/32 dev lo
	in_cloud ip addr add "$CLOUD_ADDR/32" dev lo
	printf '%s' "$1" >"$CLOUD_DIR/token"
	echo '{}' >"$CLOUD_DIR/servers.json"
	_cloud_bg cloud python3 "$TOP/tests/e2e/cloud.py" "$CLOUD_DIR" "$CLOUD_ADDR" 34080
	cat >"$CLOUD_DIR/registry.yml" <<-EOF
		version: 0.1
		storage: {filesystem: {rootdirectory: $T/registry}}
		http: {addr: $CLOUD_REGISTRY}
		log: {level: error}
	EOF
	_cloud_bg registry docker-registry serve "$CLOUD_DIR/registry.yml"
	_cloud_bg release python3 -m http.server --bind "$CLOUD_ADDR" --directory "$CLOUD_DIR/release" 34081
	_cloud_wait 20 "the fake cloud" grep -q ready "$CLOUD_DIR/cloud.log"
	_cloud_wait 20 "the registry" curl -sf -o /dev/null "http://$CLOUD_REGISTRY/v2/"
	_cloud_wait 20 "the release server" curl -sf -o /dev/null "$CLOUD_RELEASE/"
	cloud_bucket_start
}

# _cloud_bg NAME CMD...: a process in the cloud namespace, killed at exit.
_cloud_bg() {
	local name=$1 pid
	shift
	DOCKER_HOST=$DOCKER_HOST ip netns exec "$CLOUD_NS" "$@" >"$CLOUD_DIR/$name.log" 2>&1 &
	pid=$!
	at_exit "kill $pid"
}

# _cloud_wait SECONDS WHAT CMD...: CMD inside the namespace until it succeeds.
_cloud_wait() {
	local s=$1 what=$2
	shift 2
	wait_for "$s" ip netns exec "$CLOUD_NS" "$@" && return 0
	fail "$what did not answer in the cloud namespace within ${s}s"
	tail -n 20 "$CLOUD_DIR"/*.log
	exit 1
}

# The bucket: sets $S3_ENDPOINT (as the VMs reach it), $BUCKET, $CREDS (a
# shared-credentials file of its keys), $BUCKET_PORT (the port to cut for
# "unreachable"), $BUCKET_KIND. Ceph RGW (tests/state/lib-rgw.sh) on
# $CLOUD_ADDR in the namespace where it is installed, or with
# E2E_BUCKET=s3rver, s3rver behind the SigV4-checking proxy.
cloud_bucket_start() {
	BUCKET=agentbox-e2e
	if [ "${E2E_BUCKET:-rgw}" = rgw ] && have_rgw; then
		start_rgw "$CLOUD_ADDR" "$CLOUD_NS"
		BUCKET_KIND="Ceph RGW (memstore)"
	else
		command -v node >/dev/null && [ -x "$STATE_NODE/.bin/s3rver" ] ||
			{ skip "needs node and tests/state's npm packages (make deps)"; exit 0; }
		_cloud_bg s3rver node --openssl-legacy-provider "$STATE_NODE/s3rver/bin/s3rver.js" \
			-d "$CLOUD_DIR/s3data" -a 127.0.0.1 -p 34010 --silent --allow-mismatched-signatures \
			--configure-bucket "$BUCKET" --service-endpoint agentbox.test
		# s3rver knows one key pair only
		LISTEN_ADDR=$CLOUD_ADDR _cloud_bg s3proxy node "$TOP/tests/state/sigv4-proxy.js" 34011 34010 \
			S3RVER S3RVER
		S3_ENDPOINT=http://$CLOUD_ADDR:34011
		BUCKET_KIND="s3rver behind the SigV4-checking proxy"
		_cloud_wait 20 "s3rver" curl -sf -o /dev/null http://127.0.0.1:34010/
		_cloud_wait 20 "the S3 proxy" curl -sf -o /dev/null "$S3_ENDPOINT/__stats"
		CREDS=$CLOUD_DIR/credentials
		printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$CREDS"
		chmod 600 "$CREDS"
	fi
	BUCKET_PORT=${S3_ENDPOINT##*:}
}

# bucket_cut / bucket_restore: the bucket unreachable from the VMs (refused).
bucket_cut() { in_cloud iptables -I INPUT -p tcp --dport "$BUCKET_PORT" -j REJECT --reject-with tcp-reset; }
bucket_restore() { in_cloud iptables -D INPUT -p tcp --dport "$BUCKET_PORT" -j REJECT --reject-with tcp-reset; }

# s3 ARGS...: tests/helpers/s3-tool against the bucket, from the cloud side.
s3() { in_cloud "$BUILD/tests/helpers/s3-tool" "$S3_ENDPOINT" us-east-1 "$BUCKET" "$CREDS" "$@"; }

# cloud_calls [JQ FILTER]: the recorded API and metadata calls.
cloud_calls() { jq -c "${1:-.}" "$CLOUD_DIR/calls.jsonl"; }
cloud_deletes() { jq -c 'select(.server == "api" and .method == "DELETE")' "$CLOUD_DIR/calls.jsonl" | grep -c .; }
