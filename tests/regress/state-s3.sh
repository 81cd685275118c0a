#!/usr/bin/env bash
# lib/s3 against s3rver behind the aws4 signature-checking proxy: every
# request's SigV4 signature and payload hash are checked by the reference
# signer; wrong keys are refused; multipart, LIST continuation, retries on
# 500/503/reset/truncated bodies, no retry on 403, session tokens.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
start_s3rver

printf 'hello\n' >"$T/small"
check "PUT of a key with spaces and UTF-8" $S3 put "d/a b+c ü.txt" "$T/small"
check "GET returns the bytes" cmp <($S3 get "d/a b+c ü.txt") "$T/small"
check "HEAD gives the size" [ "$($S3 head "d/a b+c ü.txt" | cut -d' ' -f1)" = 6 ]
check "every request was signature-checked" [ "$(proxy_stat rejected)" = 0 ]

# wrong secret: refused by the checker, one line naming bucket, key and code
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = wrong\n' >"$T/badcreds"
chmod 600 "$T/badcreds"
before=$(proxy_stat requests)
"$HELPERS/s3-tool" "$S3_ENDPOINT" us-east-1 "$BUCKET" "$T/badcreds" get "d/a b+c ü.txt" >/dev/null 2>"$T/err"
check "wrong secret key fails" [ $? -ne 0 ]
check "wrong secret: one line with bucket, key and SignatureDoesNotMatch" \
	grep -qx 'GET s3://bkt/d/a b+c ü.txt: HTTP 403 SignatureDoesNotMatch: .*' "$T/err"
check "a 403 is not retried" [ "$(($(proxy_stat requests) - before))" = 1 ]
chmod 644 "$T/badcreds"
"$HELPERS/s3-tool" "$S3_ENDPOINT" us-east-1 "$BUCKET" "$T/badcreds" get x 2>"$T/err"
check "credentials file readable by others refused" grep -q "chmod 0600" "$T/err"

$S3 get missing-key >/dev/null 2>"$T/err"
check "missing key: NoSuchKey" grep -q "GET s3://bkt/missing-key: HTTP 404 NoSuchKey" "$T/err"
"$HELPERS/s3-tool" "$S3_ENDPOINT" us-east-1 nobucket "$CREDS" get k >/dev/null 2>"$T/err"
check "missing bucket: NoSuchBucket" grep -q "HTTP 404 NoSuchBucket" "$T/err"

# LIST with continuation (2 keys a page)
for i in 1 2 3 4 5; do $S3 put "l/k$i" "$T/small" || fail "put l/k$i"; done
check "LIST follows continuation tokens" [ "$(S3_LIST_PAGE=2 $S3 list l/ | wc -l)" = 5 ]

# multipart: 3 parts of 5 MiB + a rest, with faults on the parts
head -c $((17 * 1024 * 1024)) /dev/urandom >"$T/big"
rejected=$(proxy_stat rejected)
fault partNumber=1 500 2
fault partNumber=2 reset 1
fault partNumber=3 503 1
check "multipart upload retries parts through 500, reset and 503" $S3 upload big "$T/big" 5242880
check "the retries happened" [ "$(proxy_stat injected)" -ge 4 ]
check "multipart object is byte-identical" cmp <($S3 get big) "$T/big"
check "all non-final parts the same size (the proxy refuses otherwise, as R2)" [ "$(proxy_stat rejected)" = "$rejected" ]
check "region auto (R2) is signed into the scope" \
	"$HELPERS/s3-tool" "$S3_ENDPOINT" auto "$BUCKET" "$CREDS" head big
fault "^GET /bkt/big" truncate 2
check "GET resumes after truncated bodies" cmp <($S3 get big) "$T/big"
fault "^GET /bkt/big" reset 1
check "GET retries after a reset" cmp <($S3 get big) "$T/big"
fault "^GET /bkt/big" hold 1
check "GET retries after a stall that ends in a dropped connection" cmp <($S3 get big) "$T/big"
fault "^GET /bkt/big" 500 20
S3_ATTEMPTS=3 $S3 get big >/dev/null 2>"$T/err"
check "retries are bounded and the error says why" grep -q "HTTP 500 InternalError" "$T/err"
faults_clear
fault "uploads=" 500 20
S3_ATTEMPTS=2 $S3 upload big2 "$T/big" 5242880 2>"$T/err"
check "a failed multipart upload fails" [ $? -ne 0 ]
check "no object is left by a failed upload" not $S3 head big2
faults_clear
check "DELETE" $S3 delete big
check "DELETE of a missing key is fine" $S3 delete big
check "deleted object is gone" not $S3 head big

# session token: a proxy that wants one
pp=$(free_port)
node "$TOP/tests/state/sigv4-proxy.js" "$pp" "${S3_DIRECT##*:}" S3RVER S3RVER tok123 >"$T/proxy2.log" 2>&1 &
at_exit "kill $!"
wait_for 20 grep -q ready "$T/proxy2.log"
cp "$CREDS" "$T/tokcreds"
echo 'aws_session_token = tok123' >>"$T/tokcreds"
chmod 600 "$T/tokcreds"
check "session token sent and signed" "$HELPERS/s3-tool" "http://127.0.0.1:$pp" us-east-1 "$BUCKET" "$T/tokcreds" get "d/a b+c ü.txt"
"$HELPERS/s3-tool" "http://127.0.0.1:$pp" us-east-1 "$BUCKET" "$CREDS" get "d/a b+c ü.txt" >/dev/null 2>"$T/err"
check "without the session token: refused" grep -q InvalidToken "$T/err"

# virtual-host style: <bucket>.s3.agentbox.test resolved to 127.0.0.1 by an
# /etc/hosts of our own, in a private mount namespace (.test never resolves
# elsewhere, so nothing can leave the machine)
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	cp /etc/hosts "$T/hosts"
	echo "127.0.0.1 $BUCKET.s3.agentbox.test s3.agentbox.test" >>"$T/hosts"
	vhost() {
		unshare -m bash -c 'mount --bind "$1" /etc/hosts && shift && "$@"' _ "$T/hosts" \
			env S3_VHOST=1 "$HELPERS/s3-tool" "http://s3.agentbox.test:${S3_ENDPOINT##*:}" \
			us-east-1 "$BUCKET" "$CREDS" "$@"
	}
	check "virtual-host style PUT (signed with the bucket in the host)" vhost put "v/k 1" "$T/small"
	check "virtual-host style GET" cmp <(vhost get "v/k 1") "$T/small"
	check "virtual-host style LIST" [ "$(vhost list v/ | wc -l)" = 1 ]
	check "virtual-host style multipart" vhost upload v/big "$T/big" 5242880
	check "virtual-host multipart object identical (read path style)" cmp <($S3 get v/big) "$T/big"
else
	skip "virtual-host style needs root and unshare"
fi

# EC2 instance-profile credentials through IMDSv2 (a local stand-in), with
# the session token the token-checking proxy wants
# start_imds LOG TTL: the stand-in on a free port (tried again on another
# port if it could not listen); sets $IMDS_PORT
start_imds() {
	local attempt pid
	for attempt in 1 2 3 4 5; do
		IMDS_PORT=$(free_port)
		node "$TOP/tests/state/imds-mock.js" "$IMDS_PORT" S3RVER S3RVER tok123 "$2" >"$1" 2>&1 &
		pid=$!
		if wait_for 20 grep -q ready "$1"; then
			at_exit "kill $pid"
			return 0
		fi
		kill "$pid" 2>/dev/null
	done
	return 1
}
start_imds "$T/imds.log" 3600
ip=$IMDS_PORT
check "IMDSv2 credentials (token, role, session token) work" \
	"$HELPERS/s3-tool" "http://127.0.0.1:$pp" us-east-1 "$BUCKET" "imds:http://127.0.0.1:$ip" get "d/a b+c ü.txt"
start_imds "$T/imds2.log" 120
ip2=$IMDS_PORT
"$HELPERS/s3-tool" "http://127.0.0.1:$pp" us-east-1 "$BUCKET" "imds:http://127.0.0.1:$ip2" list d/ >/dev/null
check "credentials about to expire are refreshed before a request" \
	[ "$(curl -sf "http://127.0.0.1:$ip2/__stats" | jq .credentials)" -ge 2 ]
"$HELPERS/s3-tool" "http://127.0.0.1:$pp" us-east-1 "$BUCKET" "imds:http://127.0.0.1:1" get x 2>"$T/err"
check "no metadata service: says so" grep -q "IMDSv2" "$T/err"
# agentbox backup with no credentials_file and no ~/.aws/credentials: the
# EC2 instance profile (the stand-in hands out s3rver's keys)
H=$T/home/agent
mkdir -p "$H/.claude" && echo data >"$H/.claude/f"
write_config "$T/c.json" "$H" "imds/"
ip=$(free_port)
node "$TOP/tests/state/imds-mock.js" "$ip" S3RVER S3RVER sometoken 3600 >"$T/imds.log" 2>&1 &
at_exit "kill $!"
check "IMDS stand-in started" wait_for 20 grep -q ready "$T/imds.log"
sed 's|"credentials_file": "[^"]*", ||' "$T/c.json" >"$T/imds.json"
mkdir -p "$T/nohome"
HOME=$T/nohome AGENTBOX_IMDS_URL=http://127.0.0.1:$ip "$BIN/agentbox" -c "$T/imds.json" backup --force >"$T/out" 2>&1
check "instance-profile credentials used when no file is configured" grep -q "^generation " "$T/out"
grep -q "^generation " "$T/out" || cat "$T/out"
HOME=$T/nohome AGENTBOX_IMDS_URL=http://127.0.0.1:1 "$BIN/agentbox" -c "$T/imds.json" backup >"$T/out" 2>&1
check "no credentials at all: one actionable line" grep -q "No credentials for the state storage: state.storage.credentials_file is not set" "$T/out"

finish
