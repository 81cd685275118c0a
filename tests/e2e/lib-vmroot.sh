# The simulated VM's root filesystem (source after tests/lib.sh):
#   vmroot_tarball          prints the path of a cached tarball of a Debian 12
#                           root (debootstrap minbase + the VM package list),
#                           building it on first use (progress on stderr)
#   vmroot_import REF       docker import of that tarball into $DOCKER_HOST
# The cache lives in /var/cache/agentbox-tests/, keyed by the hash of the
# package list and of this recipe, so a changed list builds a new root.
E2E_CACHE=${AGENTBOX_TEST_CACHE:-/var/cache/agentbox-tests}
E2E_MIRROR=${AGENTBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The VM image recipe's list when it exists, else the test's own.
vmroot_package_list() {
	local f
	for f in "$TOP/images/vm/packages.txt" "$TOP/tests/e2e/vm-packages.txt"; do
		[ -e "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

# What a VM of ours needs besides its package list: no apt caches. (The
# locale cloud-init needs, C.UTF-8, comes from the rendered user-data, as
# on a real VM.)
_vmroot_configure() {
	local root=$1
	# The VM's DNS would be the cloud's; there is none here (no traffic off
	# the machine), so nothing waits on it.
	: >"$root/etc/resolv.conf"
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

# debootstrap with one progress line every 40 packages (bounded: 20 min).
_vmroot_debootstrap() {
	local - list=$1 root=$2
	set -o pipefail
	timeout 1200 debootstrap --variant=minbase \
		--include="$(grep -v '^\s*#' "$list" | sed '/^\s*$/d' | paste -sd,)" \
		bookworm "$root" "$E2E_MIRROR" 2>&1 |
		awk '/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) / { if (++n % 60 == 0) { print "vmroot: " $0; fflush() } next }
		     { print "vmroot: " $0; fflush() }' >&2 && [ -x "$root/sbin/init" ]
}

vmroot_tarball() {
	local list key out tmp start
	list=$(vmroot_package_list) || { echo "no VM package list" >&2; return 1; }
	key=$( { grep -v '^\s*#' "$list" | sed '/^\s*$/d' | sort; declare -f _vmroot_configure; } |
		sha256sum | cut -c1-16)
	out=$E2E_CACHE/vmroot-$key.tar
	mkdir -p "$E2E_CACHE"
	# One builder at a time; a second test waits for the first one's tarball.
	exec {lockfd}>"$E2E_CACHE/.vmroot.lock"
	if ! flock -w 900 "$lockfd"; then
		echo "vmroot: the cache lock was held for 15 min" >&2
		exec {lockfd}>&-
		return 1
	fi
	if [ ! -s "$out" ]; then
		start=$(date +%s)
		tmp=$(mktemp -d "$E2E_CACHE/build.XXXXXX")
		echo "vmroot: building a Debian 12 root from $list (cached in $out; about 70-120 s)" >&2
		if ! _vmroot_debootstrap "$list" "$tmp/root"; then
			echo "vmroot: debootstrap failed (log: $tmp/root/debootstrap/debootstrap.log)" >&2
			exec {lockfd}>&-
			return 1
		fi
		_vmroot_configure "$tmp/root"
		tar -C "$tmp/root" --numeric-owner -cf "$tmp/root.tar" . &&
			mv "$tmp/root.tar" "$out" && rm -rf "$tmp"
		echo "vmroot: built in $(($(date +%s) - start)) s, $(du -m "$out" | cut -f1) MB" >&2
	fi
	# Roots of package lists nobody used for two weeks go (1 GB each).
	touch "$out" 2>/dev/null
	find "$E2E_CACHE" -maxdepth 1 -name 'vmroot-*.tar' -mtime +14 -delete 2>/dev/null
	exec {lockfd}>&-
	[ -s "$out" ] && echo "$out"
}

vmroot_import() {
	local ref=$1 tar
	tar=$(vmroot_tarball) || return 1
	docker import "$tar" "$ref" >/dev/null
}
