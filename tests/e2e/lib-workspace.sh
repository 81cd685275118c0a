# The workspace image of the end-to-end test (source after
# tests/init/lib-docker.sh, with the test's dockerd and a registry on
# 127.0.0.1:$REG_PORT whose storage the cloud's registry serves too).
#   workspace_image NAME:TAG   pushes the image; sets $WORKSPACE_IMAGE (as the
#                              VMs name it), $WORKSPACE_KIND, $WS_UID/$WS_GID
#                              (the workspace user's ids in the image) and
#                              $X_PAINT (a command painting the X screen
#                              #3366cc, run in the container)
# The default is a small stand-in: busybox plus, with the shared libraries
# they link, an X client that paints the root window once (xsetroot) and
# tmux (the terminal page). (The
# busy "claude" of step 3, tests/helpers/spin, is copied into whichever
# container runs.) E2E_WORKSPACE=real uses
# images/workspace instead (tests/image/lib-image.sh: built on a
# debootstrapped Debian 12 base on first use, which takes minutes and
# needs the npm registry; then loaded from the cache, ~2 GB), with the
# ids the image test builds it with, so both share one cached build.
WS_UID=1000 WS_GID=1000
X_PAINT="xsetroot -solid #3366cc"

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
	[ "${E2E_WORKSPACE:-standin}" = real ] && { _workspace_real "$1"; return; }
	local ref=$1 root=$T/ws-root a
	need_cmd xsetroot
	root=$T/ws-root
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/usr/local/bin"
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/"
	for a in sh ls cat sleep echo test mkdir printf id env date head tail sha256sum kill ps nc; do
		ln -s busybox "$root/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nagent:x:1000:\n' >"$root/etc/group"
	_ws_copy_with_libs "$root" "$(command -v xsetroot)" /usr/bin/xsetroot
	# tmux for the terminal page (step 2), with what it needs to start:
	# a UTF-8 locale and the terminfo entries
	need_cmd tmux
	_ws_copy_with_libs "$root" "$(command -v tmux)" /usr/bin/tmux
	mkdir -p "$root/usr/lib/locale" "$root/lib/terminfo/x" "$root/lib/terminfo/t"
	cp -r /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
	cp /lib/terminfo/x/xterm-256color "$root/lib/terminfo/x/"
	cp /lib/terminfo/t/tmux-256color "$root/lib/terminfo/t/"
	tar -C "$root" -cf "$root.tar" . && rm -rf "$root"
	docker import -c 'CMD ["/bin/sleep", "86400"]' -c 'ENV LANG=C.UTF-8' \
		-c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' "$root.tar" "127.0.0.1:$REG_PORT/$ref" >/dev/null &&
		docker push "127.0.0.1:$REG_PORT/$ref" >"$T/push.log" 2>&1 || {
		fail "workspace image $ref"
		cat "$T/push.log"
		exit 1
	}
	WORKSPACE_IMAGE_MB=$(($(stat -c %s "$root.tar") / 1048576))
	rm -f "$root.tar"
	WORKSPACE_IMAGE=$CLOUD_REGISTRY/$ref
	WORKSPACE_KIND="stand-in (busybox and xsetroot, ${WORKSPACE_IMAGE_MB} MB)"
}

_workspace_real() {
	local ref=$1
	. "$TOP/tests/image/lib-image.sh"
	image_debian_base e2e-image/debian12:base || { fail "the workspace image's Debian base"; exit 1; }
	# the make variables of tests/regress/image-workspace.sh: one cache key
	image_workspace "127.0.0.1:$REG_PORT/$ref" e2e-image/debian12:base \
		WORKSPACE_USER=agent WORKSPACE_UID=2345 WORKSPACE_GID=2346 WORKSPACE_HOME=/home/agent ||
		{ fail "images/workspace did not build"; exit 1; }
	docker push "127.0.0.1:$REG_PORT/$ref" >"$T/push.log" 2>&1 || {
		fail "push of the workspace image"
		tail -n 5 "$T/push.log"
		exit 1
	}
	WORKSPACE_IMAGE_MB=$(($(docker image inspect -f '{{.Size}}' "127.0.0.1:$REG_PORT/$ref") / 1048576))
	docker rmi "127.0.0.1:$REG_PORT/$ref" >/dev/null
	WORKSPACE_IMAGE=$CLOUD_REGISTRY/$ref
	WORKSPACE_KIND="images/workspace (${WORKSPACE_IMAGE_MB} MB)"
	WS_UID=2345 WS_GID=2346
	# x11-apps has xlogo: a window over the whole screen in one colour
	X_PAINT="xlogo -fg #3366cc -bg #3366cc -geometry 1920x1080+0+0"
}
