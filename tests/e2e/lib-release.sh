# What a user launches a workspace VM with (source after lib-cloud.sh):
#   release_deb            the .deb (make deb) on the cloud's release server;
#                          sets $DEB_URL, $DEB_SHA256, $DEB_FILE
#   render_user_data ENV OUT   user-data from an env file, by the project's
#                          own render step (agentbox render-user-data)
# The package is built from the plain build directory's sources with
# "make deb" whatever $AGENTBOX_BUILD is: what ships is never a sanitizer
# build.

release_deb() {
	local out log=$T/deb.log
	if grep -q '^deb:' "$TOP/Makefile"; then
		out=$(make -s -C "$TOP" deb BUILD="$TOP/build" 2>"$log" | tail -n 1) || {
			fail "make deb failed"
			tail -n 30 "$log"
			exit 1
		}
	else
		out=$(_release_standin_deb 2>"$log") || {
			fail "the stand-in .deb could not be built"
			tail -n 30 "$log"
			exit 1
		}
	fi
	case $out in /*) ;; *) out=$TOP/$out ;; esac
	[ -s "$out" ] || { fail "no .deb at '$out'"; exit 1; }
	DEB_FILE=$(basename "$out")
	cp "$out" "$CLOUD_DIR/release/$DEB_FILE"
	DEB_SHA256=$(sha256sum "$out" | cut -d' ' -f1)
	DEB_URL=$CLOUD_RELEASE/$DEB_FILE
}

# Until "make deb" exists: make install into a staging root and dpkg-deb,
# with the runtime libraries of the plain build as dependencies. Prints
# the path of the package.
_release_standin_deb() {
	local root=$TOP/build/e2e-deb/root ver arch out
	ver=$(cat "$TOP/VERSION")
	arch=$(dpkg --print-architecture)
	out=$TOP/build/e2e-deb/agentbox_${ver}_$arch.deb
	make -s -C "$TOP" BUILD="$TOP/build" all >&2 || return 1
	rm -rf "$root"
	make -s -C "$TOP" BUILD="$TOP/build" install DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc \
		UNITDIR=/lib/systemd/system >&2 || return 1
	# the config is the user's (user-data write_files), never the package's
	rm -f "$root/etc/agentbox/agentbox.json"
	mkdir -p "$root/DEBIAN"
	cat >"$root/DEBIAN/control" <<-EOF
		Package: agentbox
		Version: $ver
		Architecture: $arch
		Maintainer: agentbox tests <root@localhost>
		Depends: libcurl4, libcjson1, libsystemd0, libarchive13, libssl3, libxcb1, libxcb-shm0, libxcb-damage0, libxcb-xtest0, libxcb-xfixes0, libvncserver1, libgnutls30, libnettle8, docker.io, xvfb, novnc, systemd
		Description: agentbox (stand-in package of the end-to-end test)
		 Built by tests/e2e/lib-release.sh until "make deb" exists.
	EOF
	cat >"$root/DEBIAN/postinst" <<-'EOF'
		#!/bin/sh
		set -e
		id agent >/dev/null 2>&1 || useradd -m -s /bin/bash agent
		systemctl daemon-reload >/dev/null 2>&1 || true
	EOF
	chmod 755 "$root/DEBIAN/postinst"
	dpkg-deb --root-owner-group --build "$root" "$out" >&2 || return 1
	echo "$out"
}

# render_user_data ENV_FILE OUT: the project's render step when it exists,
# else a stand-in of the same shape (install the pinned .deb, write the
# config and the 0600 secrets, start agentbox-init).
render_user_data() {
	local env=$1 out=$2
	if "$BIN/agentbox" render-user-data --help >/dev/null 2>&1; then
		"$BIN/agentbox" render-user-data "$env" >"$out" 2>"$T/render.log" || {
			fail "agentbox render-user-data failed"
			cat "$T/render.log"
			exit 1
		}
		return 0
	fi
	RENDER_KIND="stand-in (tests/e2e/lib-release.sh)"
	(
		set -a
		. "$env"
		set +a
		api=
		[ -n "${HETZNER_API_URL:-}" ] && api=", \"api_url\": \"$HETZNER_API_URL\""
		cat <<-EOF
			#cloud-config
			users:
			  - name: agent
			    shell: /bin/bash
			write_files:
			  - path: /etc/agentbox/agentbox.json
			    permissions: "0644"
			    content: |
			      {
			        "workspace": {"name": "$WORKSPACE_NAME", "user": "agent", "image": "$WORKSPACE_IMAGE"${WORKSPACE_COMMAND:+, "command": $WORKSPACE_COMMAND}},
			        "idle": {"timeout": "$IDLE_TIMEOUT", "warn_before": "${IDLE_WARN_BEFORE:-5m}", "boot_grace": "${IDLE_BOOT_GRACE:-10m}", "action": "delete"},
			        "state": {"backup_interval": "${BACKUP_INTERVAL:-15m}", "storage": {"endpoint": "$S3_ENDPOINT", "region": "$S3_REGION",
			                              "bucket": "$S3_BUCKET", "path_style": true,
			                              "credentials_file": "/etc/agentbox/s3-credentials"}},
			        "provider": {"name": "hetzner", "hetzner": {"token_file": "/etc/agentbox/hcloud-token"$api}}
			      }
			  - path: /etc/agentbox/s3-credentials
			    permissions: "0600"
			    content: |
			      [default]
			      aws_access_key_id = $(cat "$S3_ACCESS_KEY_FILE")
			      aws_secret_access_key = $(cat "$S3_SECRET_KEY_FILE")
			  - path: /etc/agentbox/hcloud-token
			    permissions: "0600"
			    content: "$(cat "$HCLOUD_TOKEN_FILE")"
			runcmd:
			  - [curl, -fsS, --retry, "5", -o, /var/tmp/agentbox.deb, "$DEB_URL"]
			  - [sh, -c, "echo '$DEB_SHA256  /var/tmp/agentbox.deb' | sha256sum -c"]
			  - [apt-get, install, -y, --no-install-recommends, /var/tmp/agentbox.deb]
			  - [systemctl, enable, agentbox-init.service]
			  - [systemctl, start, agentbox-init.service]
		EOF
	) >"$out"
}
