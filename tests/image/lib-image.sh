# The workspace image in tests (source after tests/lib.sh and
# tests/init/lib-docker.sh, with start_dockerd done):
#   image_debian_base REF     a debootstrapped Debian 12 minbase root,
#                             imported as REF (the tarball is cached)
#   image_workspace REF BASE_REF [MAKE VARIABLES...]
#                             images/workspace built on BASE_REF by `make
#                             image` as REF (e.g. WORKSPACE_UID=1000); the
#                             built image is cached (docker save) under the
#                             hash of its inputs and loaded when unchanged
# Cache: /var/cache/agentbox-tests (AGENTBOX_TEST_CACHE). Ubuntu's archive
# is not reachable here, so the test base is Debian 12 (gh, tini and nodejs
# are in its archive too); apt inside the build uses Debian's mirror and
# npm the npm registry, through the host's network (--network host: the
# test dockerd has no bridge).
IMAGE_CACHE=${AGENTBOX_TEST_CACHE:-/var/cache/agentbox-tests}
IMAGE_MIRROR=${AGENTBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Holds the cache lock on fd $_image_lockfd (bounded wait), one builder at a time.
_image_lock() {
	mkdir -p "$IMAGE_CACHE"
	exec {_image_lockfd}>"$IMAGE_CACHE/.image.lock"
	flock -w 1500 "$_image_lockfd" || { echo "image: cache lock held for 25 min" >&2; return 1; }
}
_image_unlock() { exec {_image_lockfd}>&-; }

_image_configure_root() {
	local root=$1
	cat >"$root/etc/apt/sources.list" <<SRC
deb $IMAGE_MIRROR bookworm main
deb $IMAGE_MIRROR bookworm-updates main
deb ${IMAGE_MIRROR%/debian}/debian-security bookworm-security main
SRC
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

# Prints the cached tarball of the base root, building it on first use.
image_base_tarball() {
	local key out tmp start
	key=$(declare -f _image_configure_root image_base_tarball | sha256sum | cut -c1-16)
	out=$IMAGE_CACHE/image-debian12-$key.tar
	_image_lock || return 1
	if [ ! -s "$out" ]; then
		start=$(date +%s)
		tmp=$(mktemp -d "$IMAGE_CACHE/image-build.XXXXXX")
		echo "image: debootstrap of a Debian 12 minbase root (cached in $out; about 1-2 min)" >&2
		if ! timeout 900 debootstrap --variant=minbase bookworm "$tmp/root" "$IMAGE_MIRROR" \
			>"$tmp/debootstrap.log" 2>&1; then
			echo "image: debootstrap failed:" >&2
			tail -5 "$tmp/debootstrap.log" >&2
			rm -rf "$tmp"
			_image_unlock
			return 1
		fi
		_image_configure_root "$tmp/root"
		tar -C "$tmp/root" --numeric-owner -cf "$tmp/root.tar" . && mv "$tmp/root.tar" "$out"
		rm -rf "$tmp"
		echo "image: base root built in $(($(date +%s) - start)) s, $(du -m "$out" | cut -f1) MB" >&2
	fi
	_image_unlock
	[ -s "$out" ] && echo "$out"
}

image_debian_base() {
	local tar
	tar=$(image_base_tarball) || return 1
	docker import "$tar" "$1" >/dev/null
}

# image_workspace REF BASE_REF [MAKE VARIABLES...]: builds images/workspace
# as REF with `make image`, or loads the cached build of the same inputs
# (Dockerfile and files, base layers, variables). The host's extra CA
# certificates go into the build's ca-certificates/: where the egress
# re-signs TLS, npm needs them.
image_workspace() {
	local ref=$1 base=$2 key out start rc loaded ctx=$T/image-context
	shift 2
	rm -rf "$ctx" && cp -r "$TOP/images/workspace" "$ctx"
	cp /usr/local/share/ca-certificates/*.crt "$ctx/ca-certificates/" 2>/dev/null
	key=$({
		tar -C "$ctx" --sort=name --mtime=@0 --owner=0 --group=0 -cf - .
		echo "$*"
		# the layers' content, not the id: an import of the same tarball
		# gets a new id (its creation time)
		docker image inspect -f '{{json .RootFS.Layers}}' "$base"
	} | sha256sum | cut -c1-16)
	out=$IMAGE_CACHE/image-workspace-$key.tar
	if [ -s "$out" ]; then
		echo "image: loading the cached build $out" >&2
		loaded=$(docker load -i "$out" | sed -n 's/^Loaded image: //p' | head -1)
		[ -n "$loaded" ] && docker tag "$loaded" "$ref" && return 0
		echo "image: the cached build did not load; building again" >&2
	fi
	start=$(date +%s)
	echo "image: building images/workspace on $base (a few minutes; log in $T/build.log)" >&2
	# One progress line per Dockerfile step (the legacy builder's "Step N/M").
	timeout 1500 make -s -C "$TOP" image IMAGE="image-cache:$key" IMAGE_BASE="$base" \
		IMAGE_CONTEXT="$ctx" "$@" 2>&1 | tee "$T/build.log" |
		grep --line-buffered '^Step ' | sed -u 's/^/image: /' >&2
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		echo "image: docker build failed (exit $rc):" >&2
		tail -20 "$T/build.log" >&2
		return 1
	fi
	echo "image: built in $(($(date +%s) - start)) s" >&2
	_image_lock || return 1
	docker save -o "$out.tmp.$$" "image-cache:$key" && mv "$out.tmp.$$" "$out"
	# the older builds of this image are of no use any more
	find "$IMAGE_CACHE" -maxdepth 1 -name 'image-workspace-*.tar' ! -name "${out##*/}" -delete
	_image_unlock
	docker tag "image-cache:$key" "$ref"
}
