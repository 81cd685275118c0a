#!/usr/bin/env bash
# timeout: 900
# The rendered user-data under real cloud-init: a Debian 12 systemd
# container (debootstrap, cached) boots with a NoCloud seed holding the
# user-data of an INSTALL=baked env file (EC2 template, a public screen, so
# every kind of write_files entry is there), and cloud-init must end
# "done" with no error: the users (uid, sudo, groups), every file with its
# mode, owner and bytes, password logins off, and runcmd enabling and
# starting agentbox-init. The image's agentbox is a stand-in unit here (a
# baked image has the real one; the .deb install path is the end-to-end
# test's). No secret may appear in cloud-init's logs or the journal.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
need_root
need_cmd dockerd
need_cmd docker
need_cmd debootstrap
need_cmd jq
python3 -c 'import yaml' 2>/dev/null || { skip "needs python3-yaml"; exit 0; }
AB=$BIN/agentbox
CACHE=${AGENTBOX_TEST_CACHE:-/var/cache/agentbox-tests}
MIRROR=${AGENTBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PKGS=systemd,systemd-sysv,dbus,cloud-init,python3-cffi-backend,sudo,openssh-server,iproute2

# What a baked image has that minbase has not: the docker group (docker.io
# makes it) and agentbox-init.service (a stand-in that checks the config
# and secrets cloud-init wrote are there when systemd starts it).
_configure_root() {
	local root=$1
	chroot "$root" groupadd --system docker
	cat >"$root/etc/systemd/system/agentbox-init.service" <<-'EOF'
		[Unit]
		Description=stand-in for agentbox-init (tests/regress/render-boot.sh)
		[Service]
		Type=oneshot
		RemainAfterExit=yes
		ExecStart=/bin/sh -c 'test -s /etc/agentbox/agentbox.json && test -s /etc/agentbox/s3-credentials && echo stand-in agentbox-init ran'
		[Install]
		WantedBy=multi-user.target
	EOF
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

# The root as a tarball for docker import, built once per package list and
# configuration (progress printed; bounded).
root_tarball() {
	local key out root lockfd
	key=$({ echo "$PKGS"; declare -f _configure_root; } | sha256sum | cut -c1-16)
	out=$CACHE/render-root-$key.tar
	mkdir -p "$CACHE"
	exec {lockfd}>"$CACHE/.render-root.lock"
	flock -w 1200 "$lockfd" || return 1
	if [ ! -s "$out" ]; then
		root=$T/root
		echo "render-boot: building the VM root (debootstrap, once; about a minute)" >&2
		timeout 1200 debootstrap --variant=minbase --include="$PKGS" bookworm "$root" "$MIRROR" \
			2>&1 | awk '/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) / { if (++n % 60 == 0) print "render-boot: " $0; next } { print "render-boot: " $0 }' >&2
		[ -x "$root/sbin/init" ] || return 1
		_configure_root "$root"
		tar -C "$root" -cf "$out.tmp" . && mv "$out.tmp" "$out"
		rm -rf "$root"
	fi
	exec {lockfd}>&-
	echo "$out"
}

tarball=$(root_tarball) || { fail "the VM root could not be built"; finish; }
start_dockerd
docker import "$tarball" render-boot-root:latest >/dev/null || { fail "docker import"; finish; }

# The env file and the user-data, as a user makes them.
cd "$T" || exit 1
mkdir -p keys seed
(
	umask 077
	printf '[default]\naws_access_key_id = AKIABOOTTEST\naws_secret_access_key = boot-S3-secret-77\n' >keys/s3
	printf 'boot-registry-user:boot-registry-pass-55\n' >keys/registry
	printf 'bootpw-99\n' >keys/display-password
	printf 'boot-web-password-1234\n' >keys/web-password
	printf -- '-----BEGIN PRIVATE KEY-----\nMIIEbootkey42\n-----END PRIVATE KEY-----\n' >keys/tls.key
)
printf -- '-----BEGIN CERTIFICATE-----\nMIIBbootcert\n-----END CERTIFICATE-----\n' >keys/tls.crt
cat >boot.env <<'EOF'
PROVIDER=ec2
INSTALL=baked
WORKSPACE_NAME=boot
WORKSPACE_IMAGE=registry.example/agent:1
WORKSPACE_UID=1234
SSH_KEY=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRenderBootTestKey boot@test
BUCKET=boot-bucket
S3_REGION=eu-central-1
S3_CREDENTIALS_FILE=keys/s3
REGISTRY_AUTH_FILE=keys/registry
DISPLAY_LISTEN=0.0.0.0
DISPLAY_PASSWORD_FILE=keys/display-password
DISPLAY_WEB_PASSWORD_FILE=keys/web-password
DISPLAY_TLS_CERT_FILE=keys/tls.crt
DISPLAY_TLS_KEY_FILE=keys/tls.key
EOF
"$AB" render-user-data boot.env -o seed/user-data || { fail "render"; finish; }
printf 'instance-id: render-boot-1\nlocal-hostname: render-boot\n' >seed/meta-data

vm=render-boot-$$
at_exit "docker rm -f $vm"
docker run -d --name "$vm" --hostname render-boot --network none \
	--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
	--tmpfs /run --tmpfs /run/lock --cgroupns=private --tmpfs /sys/fs/cgroup \
	--stop-signal SIGRTMIN+3 -e container=docker \
	-v "$T/seed:/var/lib/cloud/seed/nocloud:ro" render-boot-root:latest /sbin/init >/dev/null ||
	{ fail "docker run"; finish; }
in_vm() { docker exec "$vm" "$@"; }
start=$SECONDS
timeout 300 docker exec "$vm" cloud-init status --wait >/dev/null 2>&1
in_vm cloud-init status --long >status.txt 2>&1
echo "cloud-init finished after $((SECONDS - start)) s:"
cat status.txt
check "cloud-init ends 'status: done'" grep -qx 'status: done' status.txt
in_vm cloud-init status --format json >status.json 2>/dev/null
check "cloud-init reports no errors" jq -e '(.errors | length) == 0' status.json
in_vm sh -c 'grep -E "WARNING|ERROR|Traceback" /var/log/cloud-init.log' >warnings.txt
[ -s warnings.txt ] && { echo "cloud-init warnings:"; cat warnings.txt; }

check "workspace user agent: uid 1234" [ "$(in_vm id -u agent)" = 1234 ]
in_vm id -nG agent >agent-groups.txt
check "workspace user: only its own group ($(cat agent-groups.txt))" [ "$(cat agent-groups.txt)" = agent ]
check "workspace user: no SSH key" sh -c '! docker exec "$1" grep -qs . /home/agent/.ssh/authorized_keys' _ "$vm"
check "sshd lets only the login user in (the workspace user's ~/.ssh is writable from the container)" \
	sh -c 'docker exec "$1" sshd -T 2>/dev/null | grep -qx "allowusers admin"' _ "$vm"
check "workspace user: no sudo rule" sh -c '! docker exec "$1" grep -rqs "^agent " /etc/sudoers.d' _ "$vm"
check "login user admin: in docker and systemd-journal" \
	sh -c 'g=$(docker exec "$1" id -nG admin) && echo "$g" | grep -qw docker && echo "$g" | grep -qw systemd-journal' _ "$vm"
check "login user admin: its SSH key and sudo" \
	sh -c 'docker exec "$1" grep -q RenderBootTestKey /home/admin/.ssh/authorized_keys &&
		docker exec "$1" grep -rqs "^admin ALL=(ALL) NOPASSWD:ALL" /etc/sudoers.d' _ "$vm"
check "password logins off" \
	sh -c 'docker exec "$1" sshd -T 2>/dev/null | grep -qx "passwordauthentication no"' _ "$vm"
for f in s3:s3-credentials registry:registry-auth display-password:display-password web-password:web-password tls.key:display-tls.key; do
	src=${f%%:*} dst=/etc/agentbox/${f#*:}
	check "$dst: root 0600, byte for byte" \
		sh -c '[ "$(docker exec "$1" stat -c %U:%a "$2")" = root:600 ] &&
			docker exec "$1" cat "$2" | cmp -s - "keys/$3"' _ "$vm" "$dst" "$src"
done
check "/etc/agentbox/state.key: the key render generated, root 0600, byte for byte" \
	sh -c '[ "$(docker exec "$1" stat -c %U:%a /etc/agentbox/state.key)" = root:600 ] &&
		docker exec "$1" cat /etc/agentbox/state.key | cmp -s - boot.state-key' _ "$vm"
check "/etc/agentbox/display-tls.crt: 0644, byte for byte" \
	sh -c '[ "$(docker exec "$1" stat -c %a /etc/agentbox/display-tls.crt)" = 644 ] &&
		docker exec "$1" cat /etc/agentbox/display-tls.crt | cmp -s - keys/tls.crt' _ "$vm"
check "agentbox.json: the env file's settings" \
	sh -c 'docker exec "$1" cat /etc/agentbox/agentbox.json |
		jq -e ".workspace.name == \"boot\" and .state.storage.credentials_file == \"/etc/agentbox/s3-credentials\"
			and .display.password_file == \"display-password\"
			and .display.web_password_file == \"web-password\"" >/dev/null' _ "$vm"
check "the display's credentials drop-in" \
	sh -c 'docker exec "$1" cat /etc/systemd/system/agentbox-display.service.d/credentials.conf |
		grep -v "^#" | tr "\n" " " | grep -qx "\[Service\] LoadCredential=display-password:/etc/agentbox/display-password LoadCredential=web-password:/etc/agentbox/web-password LoadCredential=display-tls-key:/etc/agentbox/display-tls.key "' _ "$vm"
check "runcmd enabled agentbox-init" [ "$(in_vm systemctl is-enabled agentbox-init.service)" = enabled ]
check "runcmd started agentbox-init, after the files were written" \
	sh -c 'docker exec "$1" journalctl -u agentbox-init.service | grep -q "stand-in agentbox-init ran"' _ "$vm"

# What the docs have the login user run, as that user.
check "the login user reads cloud-init's status (docs/quickstart.md)" \
	sh -c 'docker exec -u admin "$1" cloud-init status --long | grep -qx "status: done"' _ "$vm"
check "the login user reads the journal of the agentbox units (systemd-journal)" \
	sh -c 'docker exec -u admin "$1" journalctl -u agentbox-init.service | grep -q "stand-in agentbox-init ran"' _ "$vm"
check "the workspace user cannot read the secrets" \
	sh -c '! docker exec -u agent "$1" cat /etc/agentbox/s3-credentials >/dev/null 2>&1' _ "$vm"

# No secret in cloud-init's logs, its runcmd script or the journal.
in_vm sh -c 'cat /var/log/cloud-init.log /var/log/cloud-init-output.log /var/lib/cloud/instance/scripts/runcmd; journalctl -b --no-pager' >logs.txt 2>/dev/null
leaked=
for s in boot-S3-secret-77 boot-registry-pass-55 bootpw-99 MIIEbootkey42; do
	grep -q -- "$s" logs.txt && leaked="$leaked $s"
	grep -q -- "$(printf '%s' "$s" | base64)" logs.txt && leaked="$leaked base64($s)"
done
check "no secret in cloud-init's logs, runcmd or the journal${leaked:+:$leaked}" [ -z "$leaked" ]
check "the logs were read (cloud-init.log holds the run)" grep -q 'modules-final' logs.txt
finish
