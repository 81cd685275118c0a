#!/usr/bin/env bash
# idle.action "delete" end to end: agentbox-monitor runs inside a network
# namespace where a fake cloud (tests/provider/fake.py) answers on the real
# metadata addresses 169.254.169.254 and (Scaleway) 169.254.42.42, and fake
# Hetzner / Scaleway / DigitalOcean / EC2 APIs listen on 127.0.0.1:8080. The fake records every request; each case checks what
# was sent (or that nothing was) and what the monitor said. The final
# backup before a delete goes to Ceph RGW started inside the namespace
# (tests/state/lib-rgw.sh), the failure cases to s3rver behind the fault
# proxy, also inside.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd ip
need_cmd python3
need_cmd jq
need_cmd unshare
. "$TOP/tests/state/lib-state.sh"

NS=abx-$RANDOM$$
ip netns add "$NS" || { skip "cannot create a network namespace"; exit 0; }
at_exit "ip netns del $NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 169.254.169.254/32 dev lo
ip -n "$NS" addr add 169.254.42.42/32 dev lo

SC=$T/scenario.json CALLS=$T/calls.log
echo '{"metadata": "hetzner"}' >"$SC"
ip netns exec "$NS" python3 "$TOP/tests/provider/fake.py" "$SC" "$CALLS" scaleway >"$T/fake.out" 2>&1 &
fake=$!
at_exit "kill $fake"
wait_for 10 grep -q ready "$T/fake.out" || { fail "the fake cloud did not start"; finish; }

mkdir -p "$T/home"
printf 'test-token\n' >"$T/token"
chmod 600 "$T/token"
# A systemctl that only writes down what it was asked, bind-mounted over
# the real one in a private mount namespace: a poweroff here must not
# power off the test machine.
printf '#!/bin/sh\necho "$@" >>%s/systemctl.log\n' "$T" >"$T/systemctl"
chmod 755 "$T/systemctl"

# cfg IDLE_EXTRA [PROVIDER_NAME [EC2_TERMINATE]]: writes $T/c.json ($PAPI: provider.api_url)
cfg() {
	local pj=""
	[ -z "${PAPI:-}" ] || pj="\"api_url\": \"$PAPI\","
	cat >"$T/c.json" <<JSON
{"workspace": {"home": "$T/home"}, "runtime_dir": "$T/run", "state_dir": "$T/state",
 "idle": {"boot_grace": "0s", "interval": "100ms", "timeout": "1s", "warn_before": "0s",
          "watch_paths": ["$T/home"], "ports": [], "action": "delete" $1},
 ${STATE_JSON:-}
 "provider": {"name": "${2:-auto}", "metadata_timeout": "300ms", "metadata_retries": 1,
              "delete_retries": 1, "token_file": "$T/token", $pj
              "hetzner": {"api_url": "http://127.0.0.1:8080/v1", "token_file": "$T/token"},
              "ec2": {"api_url": "http://127.0.0.1:8080/ec2/", "terminate": "${3:-shutdown}"}}}
JSON
}
step() { jq -r .step "$T/state/delete.json" 2>/dev/null; }
# run NAME [monitor args]: one monitor run until the sequence ends
# (deleted, failed, dry run, poweroff) or 15 s; its stderr in $T/NAME.log.
run() {
	local name=$1
	shift
	: >"$CALLS"
	rm -rf "$T/state" "$T/run" "$T/systemctl.log"
	unshare -m sh -c 'mount --bind "$1" /usr/bin/systemctl && shift && exec "$@"' sh \
		"$T/systemctl" ip netns exec "$NS" env AGENTBOX_LOG_FIELDS=1 \
		"$BIN/agentbox-monitor" -c "$T/c.json" "$@" 2>"$T/$name.log" &
	mon=$!
	wait_for 15 sh -c "test -s $T/systemctl.log || jq -r .step $T/state/delete.json 2>/dev/null | grep -qxE 'deleted|failed|dry-run-done'"
	LAST_STEP=$(step) # now: later activity may move a failed or dry run back to active
	"$BIN/agentbox" -c "$T/c.json" status --json >"$T/$name.status" 2>/dev/null
	"$BIN/agentbox" -c "$T/c.json" status >"$T/$name.status.txt" 2>/dev/null
	sleep 0.3 # the poweroff step, and late requests, would show here
	kill "$mon" 2>/dev/null
	wait "$mon" 2>/dev/null
}
calls() { # METHOD PATH-REGEX: how many such requests the fake saw
	jq -r "select(.method == \"$1\") | .path" "$CALLS" | grep -cE "^$2\$"
}
no_delete() { [ "$(calls DELETE '.*')" -eq 0 ] && [ "$(calls POST '/ec2/')" -eq 0 ]; }
logged() { grep -q -- "$2" "$T/$1.log"; }
scenario() { echo "$1" >"$SC"; }

# --- Hetzner: the whole sequence, one DELETE for the right id ---
scenario '{"metadata": "hetzner", "hetzner_id": "4242"}'
cfg ', "delete_without_backup": true'
run hetzner
check "hetzner: exactly one DELETE" [ "$(calls DELETE '.*')" -eq 1 ]
check "hetzner: DELETE /v1/servers/4242" [ "$(calls DELETE '/v1/servers/4242')" -eq 1 ]
check "hetzner: bearer token sent" [ "$(jq -r 'select(.method == "DELETE") | .headers.authorization' "$CALLS")" = "Bearer test-token" ]
check "hetzner: the action read back" [ "$(calls GET '/v1/actions/13')" -eq 1 ]
check "hetzner: step deleted" [ "$LAST_STEP" = deleted ]
check "hetzner: identity logged once (MESSAGE_ID)" [ "$(grep -c 'MESSAGE_ID=26c16e3940b8447296746b2c660dc981' "$T/hetzner.log")" -eq 1 ]
check "hetzner: deleting journaled (MESSAGE_ID)" logged hetzner 'Deleting hetzner instance 4242.*MESSAGE_ID=8e3fa1c08b6848ab897cbf26c2a81b1d'
check "hetzner: accepted journaled" logged hetzner 'accepted the delete of 4242: action 13 running'
check "hetzner: status state acting" [ "$(jq -r .state "$T/hetzner.status")" = acting ]
check "hetzner: status identity" [ "$(jq -r .identity.instance_id "$T/hetzner.status")" = 4242 ]
check "hetzner: status delete step" [ "$(jq -r .delete.step "$T/hetzner.status")" = deleted ]
check "hetzner: agentbox status shows the step" grep -q '^delete step: *deleted' "$T/hetzner.status.txt"
check "hetzner: token never in logs, status or state" sh -c "! grep -rq test-token $T/hetzner.log $T/hetzner.status $T/state"
check "hetzner: metadata only at 169.254.169.254" [ "$(jq -r 'select(.server == "metadata") | .headers.host' "$CALLS" | sort -u)" = 169.254.169.254 ]

# --- tokens ---
cfg ', "delete_without_backup": true'
sed -i "s|$T/token|$T/nope|" "$T/c.json"
run notoken
check "missing token: no request" [ "$(calls DELETE '.*')" -eq 0 ]
check "missing token: says so" logged notoken 'Delete stopped, nothing deleted.*Hetzner token .*/nope cannot be opened'
check "missing token: status failed, acting" sh -c "[ \"\$(jq -r .state $T/notoken.status)\" = acting ] && jq -r .action_error $T/notoken.status | grep -q 'cannot be opened'"

printf 'wrong-token\n' >"$T/wrong"
chmod 600 "$T/wrong"
sed -i "s|$T/nope|$T/wrong|" "$T/c.json"
run wrongtoken
check "wrong token: one DELETE, refused, not retried" [ "$(calls DELETE '.*')" -eq 1 ]
check "wrong token: says HTTP 401" logged wrongtoken 'HTTP 401: unauthorized.*the token is wrong'
check "wrong token: step failed" [ "$LAST_STEP" = failed ]
check "wrong token: not in the log" sh -c "! grep -q wrong-token $T/wrongtoken.log"
chmod 644 "$T/wrong"
run opentoken
check "token readable by others: refused, no request" sh -c "[ \"\$(jq -r 'select(.method == \"DELETE\")' $CALLS | wc -c)\" -eq 0 ] && grep -q 'readable by group or others' $T/opentoken.log"

# --- API errors: no delete, a clear line, status acting with the error ---
cfg ', "delete_without_backup": true'
for code in 403 404 500; do
	scenario '{"metadata": "hetzner", "api_status": '$code'}'
	run "api$code"
	check "API $code: step failed, box stays up" [ "$LAST_STEP" = failed ]
	check "API $code: logged" logged "api$code" "Delete stopped, nothing deleted.*HTTP $code"
	check "API $code: status names it" sh -c "jq -r .action_error $T/api$code.status | grep -q 'HTTP $code'"
done
check "API 500: retried once (delete_retries 1)" [ "$(calls DELETE '.*')" -eq 2 ]
check "API 500: the retry is logged" logged api500 'Delete attempt 1 of 2 failed'
scenario '{"metadata": "hetzner", "action_status": "error"}'
run actionerror
check "action error: reported" logged actionerror 'action 13 failed: action_failed'
check "action error: step failed" [ "$LAST_STEP" = failed ]

# --- identity: malformed, empty, timeout, changing id, none -> no delete ---
for mode in malformed empty timeout none; do
	scenario '{"metadata": "'$mode'"}'
	run "md-$mode"
	check "metadata $mode: no delete" no_delete
	check "metadata $mode: identity unknown logged" logged "md-$mode" 'Delete stopped, nothing deleted.*instance identity unknown'
	check "metadata $mode: status shows why" sh -c "jq -r .identity_error $T/md-$mode.status | grep -q ."
done
check "metadata timeout: says no answer" logged md-timeout 'no metadata service answered'
check "metadata malformed: says malformed" logged md-malformed 'malformed'
scenario '{"metadata": "hetzner", "id_changes": true}'
run idchanges
check "id changes between reads: no delete" no_delete
check "id changes between reads: logged" logged idchanges 'instance-id changed between two reads'
scenario '{"metadata": "ec2", "id_changes": true}'
run ec2idchanges
check "ec2 id changes between reads: no delete" no_delete
check "ec2 id changes between reads: logged" logged ec2idchanges 'instance-id changed between two reads'

# --- backup rules ---
scenario '{"metadata": "hetzner"}'
cfg ''
run nobackup
check "no verified backup: no delete" no_delete
check "no verified backup: says why" logged nobackup 'no final backup: .*idle.delete_without_storage'
cfg ', "delete_without_storage": true'
run nostorage
check "no storage + delete_without_storage: says there is no storage" \
	grep -q 'no state storage is configured\|has no state storage' "$T/nostorage.log"
check "no storage + delete_without_storage: deletes" [ "$(calls DELETE '/v1/servers/4242')" -eq 1 ]
check "no storage + delete_without_storage: backup skipped logged" logged nostorage 'MESSAGE_ID=a153f4e29519433d8a189fbf7d5142fc'

# --- dry run and action none ---
cfg ', "delete_without_backup": true'
run dryrun --dry-run
check "dry run: no delete" no_delete
check "dry run: says exactly what" logged dryrun 'Dry run: would now delete hetzner instance 4242.*DELETE http://127.0.0.1:8080/v1/servers/4242'
check "dry run: step dry-run-done" [ "$LAST_STEP" = dry-run-done ]
sed -i 's/"action": "delete"/"action": "none"/' "$T/c.json"
"$BIN/agentbox-monitor" -c "$T/c.json" --dry-run 2>"$T/dryrun-none.log"
check "dry run with action none: exit 2" [ $? -eq 2 ]

# --- provider none ---
cfg ', "delete_without_backup": true' none
run pnone
check "provider none: nothing sent at all" [ ! -s "$CALLS" ]
check "provider none: logged" logged pnone 'provider.name is none: nothing deleted'

# --- EC2 api mode: TerminateInstances, SigV4 ---
scenario '{"metadata": "ec2"}'
cfg ', "delete_without_backup": true' auto api
run ec2api
check "ec2 api: one TerminateInstances" [ "$(jq -r 'select(.method == "POST") | .body' "$CALLS" | grep -c '^Action=TerminateInstances&InstanceId.1=i-0123456789abcdef0&Version=2016-11-15$')" -eq 1 ]
check "ec2 api: SigV4 for ec2 in the instance's region" sh -c "jq -r 'select(.body | startswith(\"Action=Terminate\")) | .headers.authorization' $CALLS | grep -qE '^AWS4-HMAC-SHA256 Credential=ASIAFAKEKEYID/[0-9]{8}/eu-west-1/ec2/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}\$'"
check "ec2 api: the SigV4 signature verifies (recomputed by the fake)" [ "$(jq -r 'select(.body | startswith("Action=Terminate")) | .sigv4_ok' "$CALLS")" = true ]
check "ec2 api: the session token is signed" sh -c "jq -r 'select(.body | startswith(\"Action=Terminate\")) | .headers.authorization' $CALLS | grep -q 'SignedHeaders=[a-z0-9;-]*x-amz-security-token'"
check "ec2 api: session token header" [ "$(jq -r 'select(.body | startswith("Action=Terminate")) | .headers["x-amz-security-token"]' "$CALLS")" = fake-session-token ]
check "ec2 api: IMDSv2 token asked with a TTL" [ "$(jq -r 'select(.method == "PUT") | .headers["x-aws-ec2-metadata-token-ttl-seconds"]' "$CALLS" | sort -u)" = 300 ]
check "ec2 api: step deleted" [ "$LAST_STEP" = deleted ]
check "ec2 api: secrets not logged" sh -c "! grep -q 'fake-secret-key\|fake-session-token' $T/ec2api.log $T/ec2api.status"
check "ec2 api: no poweroff" [ ! -e "$T/systemctl.log" ]

scenario '{"metadata": "ec2", "ec2_secret": "not-the-key"}'
run ec2badsig
check "ec2 api, wrong signature: refused, no delete" [ "$(jq -r 'select(.body | startswith("Action=Terminate")) | .sigv4_ok' "$CALLS")" = false ]
check "ec2 api, wrong signature: says AuthFailure" logged ec2badsig 'Delete stopped, nothing deleted.*HTTP 401: AuthFailure'
check "ec2 api, wrong signature: no poweroff (behaviour unconfirmed)" [ ! -e "$T/systemctl.log" ]
scenario '{"metadata": "ec2", "api_status": 500, "shutdown": "terminate"}'
run ec2fallback
check "ec2 api failing: retried, then poweroff fallback" [ "$(cat "$T/systemctl.log" 2>/dev/null)" = poweroff ]
check "ec2 api failing: fallback logged" logged ec2fallback 'falling back to poweroff, which terminates'
scenario '{"metadata": "ec2", "api_status": 500, "ec2_role": null}'
run ec2norole
check "ec2 api without a role: no poweroff, loud" sh -c "[ ! -e $T/systemctl.log ] && grep -q 'no instance profile' $T/ec2norole.log"

# --- EC2 shutdown mode: poweroff terminates ---
scenario '{"metadata": "ec2", "shutdown": "terminate"}'
cfg ', "delete_without_backup": true' auto shutdown
run ec2shutdown
check "ec2 shutdown: systemctl poweroff" [ "$(cat "$T/systemctl.log" 2>/dev/null)" = poweroff ]
check "ec2 shutdown: behaviour confirmed" logged ec2shutdown 'InstanceInitiatedShutdownBehavior is terminate'
check "ec2 shutdown: no TerminateInstances" [ "$(jq -r 'select(.method == "POST") | .body' "$CALLS" | grep -c TerminateInstances)" -eq 0 ]
scenario '{"metadata": "ec2", "shutdown": "stop"}'
run ec2stop
check "ec2 shutdown behaviour stop: no poweroff" [ ! -e "$T/systemctl.log" ]
check "ec2 shutdown behaviour stop: says why" logged ec2stop 'a poweroff would only stop the instance'
scenario '{"metadata": "ec2", "ec2_role": null}'
run ec2unconfirmed
check "ec2 unconfirmed behaviour: said at start" logged ec2unconfirmed 'Cannot confirm InstanceInitiatedShutdownBehavior=terminate'
check "ec2 unconfirmed behaviour: powers off as configured" [ "$(cat "$T/systemctl.log" 2>/dev/null)" = poweroff ]

# --- Scaleway: found at 169.254.42.42, the terminate action, X-Auth-Token ---
SCW=0f6b3c2e-9c5a-4b9e-8f2a-1d2e3f4a5b6c
scw_posts() { jq -r 'select(.method == "POST") | .path' "$CALLS" | grep -c "^/instance/v1/zones/fr-par-1/servers/$SCW/action\$"; }
scenario '{"metadata": "scaleway"}'
PAPI=http://127.0.0.1:8080/instance/v1 cfg ', "delete_without_backup": true'
run scw
check "scaleway: auto-detected from 169.254.42.42" [ "$(jq -r 'select(.server == "scaleway-metadata") | .headers.host' "$CALLS" | sort -u)" = 169.254.42.42 ]
check "scaleway: exactly one terminate action" [ "$(scw_posts)" -eq 1 ]
check "scaleway: the body asks for terminate" [ "$(jq -r 'select(.method == "POST") | .body' "$CALLS")" = '{"action":"terminate"}' ]
check "scaleway: X-Auth-Token sent" [ "$(jq -r 'select(.method == "POST") | .headers["x-auth-token"]' "$CALLS")" = test-token ]
check "scaleway: step deleted" [ "$LAST_STEP" = deleted ]
check "scaleway: the task is logged" logged scw "accepted the delete of $SCW: task a1b2c3d4-0000-4000-8000-000000000001 pending"
check "scaleway: status identity, zone" [ "$(jq -r '.identity.provider + " " + .identity.instance_id + " " + .identity.zone' "$T/scw.status")" = "scaleway $SCW fr-par-1" ]
check "scaleway: journaled as provider scaleway" logged scw 'AGENTBOX_PROVIDER=scaleway'
check "scaleway: token never in logs or status" sh -c "! grep -rq test-token $T/scw.log $T/scw.status $T/state"
PAPI=http://127.0.0.1:8080/instance/v1 cfg ', "delete_without_backup": true' scaleway
run scwdry --dry-run
check "scaleway dry run: says terminate, removes its volumes" logged scwdry "Dry run: would now delete scaleway instance $SCW.*POST http://127.0.0.1:8080/instance/v1/zones/fr-par-1/servers/$SCW/action {\"action\":\"terminate\"} (removes its volumes"
check "scaleway dry run: nothing sent" [ "$(scw_posts)" -eq 0 ]
sed -i "s|\"$T/token\"|\"$T/wrong\"|" "$T/c.json"
chmod 600 "$T/wrong"
run scwwrong
check "scaleway wrong key: one request, refused, not retried" [ "$(scw_posts)" -eq 1 ]
check "scaleway wrong key: says HTTP 401 and what to fix" logged scwwrong 'HTTP 401: denied_authentication: authentication is denied (the secret key is wrong or its policy lacks InstancesFullAccess)'
check "scaleway wrong key: step failed" [ "$LAST_STEP" = failed ]
check "scaleway wrong key: not in the log" sh -c "! grep -q wrong-token $T/scwwrong.log"
sed -i "s|\"$T/wrong\"|\"$T/nope\"|" "$T/c.json"
run scwnokey
check "scaleway no key file: nothing sent" [ "$(scw_posts)" -eq 0 ]
check "scaleway no key file: says so" logged scwnokey 'Delete stopped, nothing deleted.*Scaleway secret key .*/nope cannot be opened'
scenario '{"metadata": "scaleway", "api_status": 500}'
PAPI=http://127.0.0.1:8080/instance/v1 cfg ', "delete_without_backup": true'
run scw500
check "scaleway API 500: retried once, then failed" sh -c "[ \$(jq -r 'select(.method == \"POST\") | .path' $CALLS | wc -l) -eq 2 ] && [ '$LAST_STEP' = failed ]"
check "scaleway API 500: no poweroff (it does not delete there)" [ ! -e "$T/systemctl.log" ]
scenario '{"metadata": "scaleway", "task_status": "failure"}'
run scwtask
check "scaleway failed task: reported, step failed" sh -c "grep -q 'task a1b2c3d4-0000-4000-8000-000000000001 failed' $T/scwtask.log && [ '$LAST_STEP' = failed ]"
scenario '{"metadata": "scaleway", "id_changes": true}'
run scwidchanges
check "scaleway id changes between reads: no delete" [ "$(jq -r 'select(.method == "POST")' "$CALLS" | wc -c)" -eq 0 ]
check "scaleway id changes between reads: logged" logged scwidchanges 'instance-id changed between two reads'

# --- DigitalOcean: /metadata/v1, DELETE /v2/droplets/{id}, answered 204 ---
scenario '{"metadata": "digitalocean"}'
PAPI=http://127.0.0.1:8080/v2 cfg ', "delete_without_backup": true'
run do
check "digitalocean: auto-detected at 169.254.169.254" logged do 'This is digitalocean instance 3164444 (region fra1'
check "digitalocean: exactly one DELETE /v2/droplets/3164444" sh -c "[ \"\$(jq -r 'select(.method == \"DELETE\") | .path' $CALLS)\" = /v2/droplets/3164444 ]"
check "digitalocean: bearer token sent" [ "$(jq -r 'select(.method == "DELETE") | .headers.authorization' "$CALLS")" = "Bearer test-token" ]
check "digitalocean: step deleted" [ "$LAST_STEP" = deleted ]
check "digitalocean: accepted logged" logged do 'accepted the delete of 3164444: Droplet 3164444: HTTP 204'
check "digitalocean: status names it" [ "$(jq -r .identity.provider "$T/do.status")" = digitalocean ]
check "digitalocean: token never in logs or status" sh -c "! grep -rq test-token $T/do.log $T/do.status $T/state"
scenario '{"metadata": "digitalocean", "token": "other"}'
run dowrong
check "digitalocean wrong token: one DELETE, refused, not retried" [ "$(calls DELETE '.*')" -eq 1 ]
check "digitalocean wrong token: says HTTP 401 and the scope" logged dowrong 'HTTP 401: Unauthorized: Unable to authenticate you (the token is wrong or lacks the droplet:delete scope)'
scenario '{"metadata": "digitalocean", "api_status": 404}'
run do404
check "digitalocean 404: failed, box stays up" sh -c "[ '$LAST_STEP' = failed ] && grep -q 'HTTP 404' $T/do404.log"
scenario '{"metadata": "digitalocean", "id_changes": true}'
run doidchanges
check "digitalocean id changes between reads: no delete" no_delete
check "digitalocean id changes between reads: logged" logged doidchanges 'instance-id changed between two reads'
sed -i 's|"name": "auto"|"name": "digitalocean"|' "$T/c.json"
scenario '{"metadata": "hetzner"}'
run dowrongcloud
check "provider.name digitalocean on another cloud: no delete" no_delete
check "provider.name digitalocean on another cloud: says why" logged dowrongcloud 'instance identity unknown: DigitalOcean metadata /metadata/v1.json: HTTP 404'
PAPI=

# --- with state storage: the real final backup, on RGW inside the
# namespace (and on s3rver behind the SigV4 checker, whose fault proxy the
# failure cases below need) ---
echo "some work" >"$T/home/notes.txt"
# final_backup NAME ENDPOINT CREDS: idle, final backup verified, then one DELETE
final_backup() {
	local name=$1 gen
	STATE_JSON='"state": {"paths": ["'"$T"'/home"], "storage": {"endpoint": "'"$2"'", "bucket": "bkt",
	  "path_style": true, "credentials_file": "'"$3"'", "prefix": "ws/"}},'
	scenario '{"metadata": "hetzner", "hetzner_id": "4242"}'
	cfg ''
	echo "work before $name" >>"$T/home/notes.txt"
	run "$name"
	check "$name: final backup verified before the delete" logged "$name" 'Final backup verified: generation [0-9]\{8\}T[0-9]\{6\}Z-[0-9]*'
	check "$name: then exactly one DELETE for 4242" sh -c "[ \"\$(jq -r 'select(.method == \"DELETE\") | .path' $CALLS)\" = /v1/servers/4242 ]"
	check "$name: logged before the delete" sh -c "grep -n -e 'Final backup verified' -e 'Deleting hetzner' $T/$name.log | cut -d: -f1 | sort -nc"
	check "$name: the state lease released before the delete" sh -c "grep -n -e 'Released the lease' -e 'accepted the delete' $T/$name.log | cut -d: -f1 | sort -nc && grep -q 'Released the lease' $T/$name.log"
	# the generation verified last before the DELETE (an earlier round may
	# have been aborted by activity)
	gen=$(sed -n 's/.*Final backup verified: generation \([^ ]*\) .*/\1/p' "$T/$name.log" | tail -n 1)
	grep -h 'aborted\|stopped' "$T/$name.log" | cut -c1-200
	check "$name: the generation is in the bucket" \
		ip netns exec "$NS" "$HELPERS/s3-tool" "$2" us-east-1 bkt "$3" head "ws/generations/$gen.tree"
	check "$name: status shows the generation" [ "$(jq -r .delete.generation "$T/$name.status")" = "$gen" ]
}
if have_rgw; then
	start_rgw 127.0.0.1 "$NS"
	final_backup rgw-final "$S3_ENDPOINT" "$CREDS"
else
	skip "final backup on RGW: needs ceph (make deps)"
fi
if ! command -v node >/dev/null || ! [ -x "$STATE_NODE/.bin/s3rver" ]; then
	skip "final backup cases on s3rver: needs node and the npm packages of tests/state (make deps)"
else
	mkdir -p "$T/s3data"
	ip netns exec "$NS" node --openssl-legacy-provider "$STATE_NODE/s3rver/bin/s3rver.js" -d "$T/s3data" \
		-a 127.0.0.1 -p 9000 --silent --allow-mismatched-signatures --configure-bucket bkt >"$T/s3rver.log" 2>&1 &
	at_exit "kill $!"
	ip netns exec "$NS" node "$TOP/tests/state/sigv4-proxy.js" 9001 9000 S3RVER S3RVER >"$T/proxy.log" 2>&1 &
	at_exit "kill $!"
	wait_for 20 grep -q ready "$T/proxy.log"
	wait_for 20 ip netns exec "$NS" curl -sf -o /dev/null http://127.0.0.1:9000/
	printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/s3creds"
	chmod 600 "$T/s3creds"
	fault() { ip netns exec "$NS" curl -sfG --data-urlencode "match=$1" --data "action=$2" \
		--data "count=${3:-1}" http://127.0.0.1:9001/__fault >/dev/null; }
	faults_clear() { ip netns exec "$NS" curl -sf -XPOST http://127.0.0.1:9001/__fault/clear >/dev/null; }
	final_backup s3rver-final http://127.0.0.1:9001 "$T/s3creds"

	echo "changed" >>"$T/home/notes.txt"
	fault '^PUT ' 500 200
	run backupfail
	faults_clear
	check "backup failing: no delete" no_delete
	check "backup failing: says so" logged backupfail 'Delete stopped, nothing deleted.*the final backup failed'

	# The bucket stores uploads but returns damaged bytes on GET: the final
	# backup does not read back as stored, so nothing is deleted.
	echo "changed again" >>"$T/home/notes.txt"
	fault '^GET .*/packs/' corrupt 200
	run corruptget
	faults_clear
	check "damaged read-back: no delete" no_delete
	check "damaged read-back: says so" logged corruptget 'Delete stopped, nothing deleted.*does not read back as it was stored.*fails authentication'
	check "damaged read-back: never called verified" sh -c "! grep -q 'Final backup verified' $T/corruptget.log"

	# Something happens while the final backup runs (a keepalive): no delete.
	echo "more work" >>"$T/home/notes.txt"
	fault '^PUT .*/packs/' hold 1
	: >"$CALLS"
	rm -rf "$T/state" "$T/run"
	ip netns exec "$NS" env AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/abort.log" &
	mon=$!
	wait_for 10 sh -c "jq -r .delete.step $T/run/status.json 2>/dev/null | grep -qx backup"
	"$BIN/agentbox" -c "$T/c.json" keepalive 1h --reason "still working" >/dev/null
	wait_for 20 grep -q 'Delete aborted' "$T/abort.log"
	sleep 0.3
	"$BIN/agentbox" -c "$T/c.json" status --json >"$T/abort.status" 2>/dev/null
	kill $mon
	wait $mon 2>/dev/null
	faults_clear
	check "activity during the backup: aborted, logged" logged abort 'Delete aborted, nothing deleted, back to active: \(a keepalive\|activity\) since the final backup started'
	check "activity during the backup: no delete" no_delete
	check "activity during the backup: held again" [ "$(jq -r .state "$T/abort.status")" = held ]

	# SIGTERM while the final backup runs: stops within 2 s; the step stays
	# written down for the next start.
	echo "even more work" >>"$T/home/notes.txt"
	fault '^PUT .*/packs/' hold 1
	rm -rf "$T/state" "$T/run"
	ip netns exec "$NS" env AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/term.log" &
	mon=$!
	wait_for 10 sh -c "jq -r .delete.step $T/run/status.json 2>/dev/null | grep -qx backup"
	sleep 0.5
	kill -TERM $mon
	wait_for 2 sh -c "! kill -0 $mon 2>/dev/null"
	check "SIGTERM during the final backup: stops within 2 s" sh -c "! kill -0 $mon 2>/dev/null"
	wait $mon
	check "SIGTERM during the final backup: exit status 0" [ $? -eq 0 ]
	check "SIGTERM during the final backup: delete.json says backup" [ "$(step)" = backup ]
	check "SIGTERM during the final backup: no delete" no_delete
	faults_clear
	STATE_JSON=
fi

# --- restart in the middle: the sequence starts over ---
scenario '{"metadata": "hetzner"}'
cfg ', "delete_without_backup": true'
rm -rf "$T/run" # no keepalive left from above
mkdir -p "$T/state0"
echo '{"step": "backup", "since": 1795600000}' >"$T/state0/delete.json"
sed -i "s|$T/state\"|$T/state0\"|" "$T/c.json"
ip netns exec "$NS" env AGENTBOX_LOG_FIELDS=1 "$BIN/agentbox-monitor" -c "$T/c.json" --dry-run 2>"$T/restart.log" &
mon=$!
wait_for 10 grep -q 'Dry run: would now delete' "$T/restart.log"
kill $mon
wait $mon 2>/dev/null
check "restart: interrupted sequence reported" logged restart "interrupted at step 'backup'.*starting over"
check "restart: a new sequence ran" logged restart 'Dry run: would now delete'
finish
