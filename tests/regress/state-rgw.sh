#!/usr/bin/env bash
# lib/s3 and agentbox against Ceph RGW (docs/state.md): odd keys, errors and
# LIST continuation on a server that checks every signature; its quirks: If-Match
# with a quoted ETag answers 412, so a 412 over an unchanged ETag is retried
# once in the other form, which is then used for that endpoint (one 412 in
# RGW's log for several writes in one process); a stale ETag stays a conflict;
# CompleteMultipartUpload answers an empty ETag (the upload's ETag comes
# from HEAD); a wrong secret or an unknown access key is refused with a
# message naming what to check.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
S3_BACKEND=rgw start_s3
RGWLOG=$RGW_DIR/log/client.rgw.a.log
# 412 answers in RGW's log (its log thread writes within milliseconds)
n412() { sleep 0.5; grep -c 'http_status=412' "$RGWLOG"; }

# -- the client's basics, signed for a real server: odd keys, errors, LIST
printf 'hello\n' >"$T/small"
check "PUT of a key with spaces, '+' and UTF-8" $S3 put "d/a b+c ü.txt" "$T/small"
check "GET returns the bytes" cmp <($S3 get "d/a b+c ü.txt") "$T/small"
check "HEAD gives the size" [ "$($S3 head "d/a b+c ü.txt" | cut -d' ' -f1)" = 6 ]
check "LIST shows the odd key as written" [ "$($S3 list d/)" = "6 d/a b+c ü.txt" ]
$S3 get missing-key >/dev/null 2>"$T/err"
check "missing key: NoSuchKey" grep -q "GET s3://bkt/missing-key: HTTP 404 NoSuchKey" "$T/err"
"$HELPERS/s3-tool" "$S3_ENDPOINT" us-east-1 nobucket "$CREDS" get k >/dev/null 2>"$T/err"
check "missing bucket: NoSuchBucket" grep -q "HTTP 404 NoSuchBucket" "$T/err"
for i in 1 2 3 4 5; do $S3 put "l/k$i" "$T/small" || fail "put l/k$i"; done
check "LIST follows continuation tokens (2 keys a page)" [ "$(S3_LIST_PAGE=2 $S3 list l/ | wc -l)" = 5 ]
check "DELETE" $S3 delete l/k1
check "DELETE of a missing key is fine" $S3 delete l/k1
check "deleted object is gone" not $S3 head l/k1

# -- conditional writes
head -c 1000 /dev/urandom >"$T/v1"
head -c 1000 /dev/urandom >"$T/v2"
check "PUT" $S3 put k "$T/v1"
quoted=$($S3 head k | cut -d' ' -f2)
check "HEAD gives a quoted ETag" grep -Eqx '"[0-9a-f]{32}"' <<<"$quoted"
bare=${quoted//\"/}
check "If-Match with the bare ETag succeeds" $S3 put-if-match k "$T/v2" "$bare"
quoted=$($S3 head k | cut -d' ' -f2)
stale=${quoted//\"/}
before=$(n412)
S3_REPEAT=3 $S3 put-if-match k "$T/v1" "$quoted" 2>"$T/err"
check "If-Match with the quoted ETag succeeds, three times in one process" [ $? -eq 0 ]
check "RGW refused the quoted form once, then the bare form was used" [ "$(($(n412) - before))" = 1 ]
check "the object has the new bytes" cmp <($S3 get k) "$T/v1"
$S3 put-if-match k "$T/v2" "\"$stale\"" 2>"$T/err"
check "a stale ETag (quoted) stays a conflict: exit 3" [ $? -eq 3 ]
check "... with the server's 412 in the message" grep -q 'HTTP 412 PreconditionFailed' "$T/err"
$S3 put-if-match k "$T/v2" "$stale" 2>"$T/err"
check "a stale ETag (bare) stays a conflict: exit 3" [ $? -eq 3 ]
check "the object was not overwritten" cmp <($S3 get k) "$T/v1"
$S3 put-if-none-match k "$T/v2" 2>"$T/err"
check "If-None-Match: * over an existing object: exit 3" [ $? -eq 3 ]
check "If-None-Match: * on a new key succeeds" $S3 put-if-none-match k2 "$T/v2"

# -- multipart: the ETag of the completed object
head -c $((12 * 1024 * 1024)) /dev/urandom >"$T/big"
etag=$($S3 upload big "$T/big" $((5 * 1024 * 1024)))
check "multipart upload of 3 parts" [ $? -eq 0 ]
check "its ETag is the stored object's (RGW's answer has none: from HEAD)" \
	[ "$etag" = "$($S3 head big | cut -d' ' -f2)" ]
check "... a multipart ETag" grep -Eqx '"[0-9a-f]{32}-3"' <<<"$etag"
check "the bytes" cmp <($S3 get big) "$T/big"

# -- wrong keys: RGW checks every signature
H=$T/home/agent
mkdir -p "$H/.claude" && echo data >"$H/.claude/f"
write_config "$T/c.json" "$H" "ws/"
check "backup with the right keys" "$BIN/agentbox" -c "$T/c.json" backup
sed 's/^aws_secret_access_key = .*/aws_secret_access_key = notthesecret/' "$CREDS" >"$T/badsecret"
sed 's/^aws_access_key_id = .*/aws_access_key_id = NOSUCHKEY/' "$CREDS" >"$T/badkey"
chmod 600 "$T/badsecret" "$T/badkey"
key=$(sed -n 's/^aws_access_key_id = //p' "$CREDS")
for cmd in "backup --force" restore; do
	sed "s|$CREDS|$T/badsecret|" "$T/c.json" >"$T/bad.json"
	"$BIN/agentbox" -c "$T/bad.json" $cmd >"$T/out" 2>&1
	check "wrong secret: $cmd fails" [ $? -eq 1 ]
	check "wrong secret: $cmd says the secret was rejected and where to fix it" \
		grep -q "SignatureDoesNotMatch: the storage rejected the secret key (it does not belong to access key $key): check aws_secret_access_key in $T/badsecret" "$T/out"
	check "wrong secret: the secret is not in the output" not grep -q notthesecret "$T/out"
	sed "s|$CREDS|$T/badkey|" "$T/c.json" >"$T/bad.json"
	"$BIN/agentbox" -c "$T/bad.json" $cmd >"$T/out" 2>&1
	check "unknown access key: $cmd fails" [ $? -eq 1 ]
	check "unknown access key: $cmd names the key and where to fix it" \
		grep -q "InvalidAccessKeyId: the storage does not know access key NOSUCHKEY: check aws_access_key_id in $T/badkey" "$T/out"
done
check "the local state is unchanged" grep -qx data "$H/.claude/f"
finish
