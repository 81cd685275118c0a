# Helpers for tests/regress/state-*.sh and bench/state.sh (source after
# tests/lib.sh). start_s3 starts the S3 server of $S3_BACKEND:
#   rgw     Ceph's RADOS Gateway (tests/state/lib-rgw.sh): a real server
#           that checks signatures and conditional writes; the default
#           where ceph is installed (where not, start_s3 prints a SKIP
#           line and uses s3rver)
#   s3rver  start_s3rver: s3rver on 127.0.0.1 behind the aws4
#           signature-checking, fault-injecting proxy
#           (tests/state/sigv4-proxy.js); for fault injection (fault,
#           faults_clear, proxy_stat), session tokens and speed
# Either sets $S3_ENDPOINT, $S3_DIRECT (the server itself, no proxy),
# $CREDS (a 0600 shared-credentials file), $S3 (s3-tool with those),
# $BUCKET and $S3_BACKEND.
# write_config FILE HOME PREFIX [EXTRA_JSON] writes an agentbox config.
STATE_NODE=$TOP/tests/state/node_modules
BUCKET=bkt
HELPERS=$BUILD/tests/helpers

# shellcheck source=tests/state/lib-rgw.sh
. "$TOP/tests/state/lib-rgw.sh"

# start_s3 [SESSION_TOKEN] (a token: s3rver only)
start_s3() {
	local backend=${S3_BACKEND:-}
	if [ -z "$backend" ]; then
		backend=s3rver
		if [ -n "${1:-}" ]; then :
		elif have_rgw; then backend=rgw
		else skip "RGW: ceph is not installed (make deps); this run is against s3rver only"
		fi
	fi
	case $backend in
	rgw) start_rgw ;;
	s3rver) start_s3rver "$@" ;;
	*) fail "S3_BACKEND=$backend: rgw or s3rver"; exit 1 ;;
	esac
}

# start_s3rver [SESSION_TOKEN]
start_s3rver() {
	command -v node >/dev/null || { skip "needs node"; exit 0; }
	[ -x "$STATE_NODE/.bin/s3rver" ] || { skip "needs npm packages: make deps (tests/state)"; exit 0; }
	local sp pp spid ppid attempt
	for attempt in 1 2 3; do
		sp=$(free_port) && pp=$(free_port) && [ "$sp" != "$pp" ] || continue
		rm -rf "$T/s3data" && mkdir -p "$T/s3data"
		# s3rver's LIST continuation tokens use DES, in OpenSSL 3's legacy provider
		node --openssl-legacy-provider "$STATE_NODE/s3rver/bin/s3rver.js" -d "$T/s3data" -a 127.0.0.1 \
			-p "$sp" --silent --allow-mismatched-signatures --configure-bucket "$BUCKET" \
			--service-endpoint agentbox.test >"$T/s3rver.log" 2>&1 &
		spid=$!
		node "$TOP/tests/state/sigv4-proxy.js" "$pp" "$sp" S3RVER S3RVER ${1:-} >"$T/proxy.log" 2>&1 &
		ppid=$!
		S3_DIRECT=http://127.0.0.1:$sp
		S3_ENDPOINT=http://127.0.0.1:$pp
		if wait_for 20 curl -sf -o /dev/null "$S3_DIRECT/" && wait_for 20 curl -sf -o /dev/null "$S3_ENDPOINT/__stats"; then
			at_exit "kill $spid $ppid"
			break
		fi
		echo "s3rver or proxy did not start (attempt $attempt):"
		cat "$T/s3rver.log" "$T/proxy.log"
		kill "$spid" "$ppid" 2>/dev/null
		wait "$spid" "$ppid" 2>/dev/null
		[ "$attempt" = 3 ] && { fail "s3rver and the proxy did not start"; exit 1; }
	done
	CREDS=$T/credentials
	printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$CREDS"
	[ -n "${1:-}" ] && printf 'aws_session_token = %s\n' "$1" >>"$CREDS"
	chmod 600 "$CREDS"
	S3="$HELPERS/s3-tool $S3_ENDPOINT us-east-1 $BUCKET $CREDS"
	S3_BACKEND=s3rver
}

not() { ! "$@"; }
# The proxy's controls (s3rver only).
_need_proxy() { [ "$S3_BACKEND" = s3rver ] || { fail "$1 needs start_s3rver (the proxy), not $S3_BACKEND"; exit 1; }; }
# fault REGEX ACTION [COUNT]: the proxy answers matching "METHOD url" requests so
fault() {
	_need_proxy fault
	curl -sfG --data-urlencode "match=$1" --data "action=$2" --data "count=${3:-1}" \
		"$S3_ENDPOINT/__fault" >/dev/null
}
faults_clear() { _need_proxy faults_clear; curl -sf -XPOST "$S3_ENDPOINT/__fault/clear" >/dev/null; }
proxy_stat() { _need_proxy proxy_stat; curl -sf "$S3_ENDPOINT/__stats" | jq -r ".$1"; }

write_config() { # file home prefix [extra members of "state"]
	cat >"$1" <<JSON
{"workspace": {"home": "$2"}, "runtime_dir": "$T/run",
 "state": {"storage": {"endpoint": "$S3_ENDPOINT", "bucket": "$BUCKET", "path_style": true,
                       "credentials_file": "$CREDS", "prefix": "$3"}${4:+, $4}}}
JSON
}

# tree_listing DIR: one line per entry: type, mode, uid, gid, size, mtime
# (ns; not for symlinks), symlink target or content SHA-256, relative path.
tree_listing() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
def walk(p):
    yield p
    st = os.lstat(p)
    if stat.S_ISDIR(st.st_mode):
        for n in sorted(os.listdir(p)):
            yield from walk(os.path.join(p, n))
for p in walk(root):
    st = os.lstat(p)
    rel = os.path.relpath(p, root).encode('utf-8', 'surrogateescape')
    if stat.S_ISLNK(st.st_mode):
        what, mt = 'link:' + os.readlink(p), '-'
    elif stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(p, 'rb') as f:
            for b in iter(lambda: f.read(1 << 20), b''):
                h.update(b)
        what, mt = h.hexdigest(), st.st_mtime_ns
    else:
        what, mt = '-', st.st_mtime_ns
    print(stat.S_IFMT(st.st_mode), oct(st.st_mode & 0o7777), st.st_uid, st.st_gid,
          st.st_size if stat.S_ISREG(st.st_mode) else 0, mt, what, repr(rel))
PY
}
