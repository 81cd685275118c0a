# The workspace image of the end-to-end test (source after
# tests/init/lib-docker.sh, with the test's dockerd and a registry on
# 127.0.0.1:$REG_PORT whose storage the cloud's registry serves too).
#   workspace_image NAME:TAG   pushes the image; sets $WORKSPACE_IMAGE (as the
#                              VMs name it) and $WORKSPACE_KIND
# E2E_WORKSPACE=real uses images/workspace (make image) when its build is
# cached in the test dockerd's cache; the default is a small stand-in:
# busybox plus, with the shared libraries they link, an X client that
# paints the root window once (xsetroot) and a CPU-busy "claude"
# (tests/helpers/spin).

_ws_copy_with_libs() { # root file [as]
	local root=$1 f=$2 as=${3:-$2} lib
	mkdir -p "$root$(dirname "$as")"
	cp -L "$f" "$root$as"
	for lib in $(ldd "$f" | awk '/=> \// { print $3 } /^[ \t]*\/lib/ { print $1 }'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

workspace_image() {
	local ref=$1 root=$T/ws-root a
	need_cmd xsetroot
	root=$T/ws-root
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/usr/local/bin"
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/"
	for a in sh ls cat sleep echo test mkdir printf id env date head tail sha256sum kill ps; do
		ln -s busybox "$root/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nagent:x:1000:\n' >"$root/etc/group"
	_ws_copy_with_libs "$root" "$(command -v xsetroot)" /usr/bin/xsetroot
	_ws_copy_with_libs "$root" "$BUILD/tests/helpers/spin" /usr/local/bin/claude
	tar -C "$root" -cf "$root.tar" . && rm -rf "$root"
	docker import -c 'CMD ["/bin/sleep", "86400"]' "$root.tar" "127.0.0.1:$REG_PORT/$ref" >/dev/null &&
		docker push "127.0.0.1:$REG_PORT/$ref" >"$T/push.log" 2>&1 || {
		fail "workspace image $ref"
		cat "$T/push.log"
		exit 1
	}
	WORKSPACE_IMAGE_MB=$(($(stat -c %s "$root.tar") / 1048576))
	rm -f "$root.tar"
	WORKSPACE_IMAGE=$CLOUD_REGISTRY/$ref
	WORKSPACE_KIND="stand-in (busybox, xsetroot, spin as claude; ${WORKSPACE_IMAGE_MB} MB)"
}
