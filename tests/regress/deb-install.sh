#!/usr/bin/env bash
# The .deb on a fresh Debian 12: "make deb", lintian, then
# "apt-get install ./agentbox_….deb" into a debootstrapped Debian 12 root
# (chroot, no systemd running, as in an image build): its dependencies come
# by name, the files, the workspace user and the enabled units are there,
# every program runs, "systemd-analyze verify" is clean for every unit;
# a config written before the install (as cloud-init does) names the user;
# remove keeps the config, purge leaves nothing of the package behind but
# the workspace user and its home.
#
# The root is cached under /var/cache/agentbox-tests/, keyed by the
# debootstrap command and the package's dependencies, with the dependencies
# downloaded (not installed): every run installs them from there by name,
# without the network, through an overlay that the run throws away.
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd debootstrap
need_cmd dpkg-deb
need_cmd unshare

# Everything mounted here goes away with the mount namespace.
if [ -z "${AGENTBOX_IN_MOUNTNS:-}" ]; then
	rm -rf "$T"
	trap - EXIT
	AGENTBOX_IN_MOUNTNS=1 exec unshare --mount --propagation private "$0" "$@"
fi

# The package is built from its own hardened objects (packaging/deb/mkdeb),
# never from the sanitizer build: the plain build's run covers it.
if ldd "$BIN/agentbox" 2>/dev/null | grep -q libasan; then
	skip "the .deb does not depend on the sanitizer build; the plain build's run tests it"
	exit 0
fi

CACHE=${AGENTBOX_TEST_CACHE:-/var/cache/agentbox-tests}
SUITE=bookworm
INCLUDE=systemd,systemd-sysv

# --- the package -----------------------------------------------------------
if ! make -C "$TOP" --no-print-directory deb BUILD="$BUILD" >"$T/mkdeb.log" 2>&1; then
	fail "make deb"
	tail -20 "$T/mkdeb.log"
	finish
fi
DEB=$(tail -1 "$T/mkdeb.log")
check "make deb made $(basename "$DEB")" [ -f "$DEB" ]
check "named agentbox_<VERSION>_<arch>.deb" \
	[ "$(basename "$DEB")" = "agentbox_$(cat "$TOP/VERSION")_$(dpkg --print-architecture).deb" ]
depends=$(dpkg-deb -f "$DEB" Depends)
check "depends on libraries (dpkg-shlibdeps)" grep -q 'libcurl4 (>= [^)]*) | libcurl4t64' <<<"$depends"
echo "$depends" | sed 's/, /\n/g' >"$T/depends"
check "depends on what it runs by name" \
	sh -c "grep -qx 'docker.io | docker-ce' '$T/depends' && grep -qx xvfb '$T/depends' && grep -qx novnc '$T/depends' && grep -qx jq '$T/depends'"
check "the config is a conffile" sh -c "dpkg-deb --ctrl-tarfile '$DEB' | tar -xO ./conffiles | grep -qx /etc/agentbox/agentbox.json"
if command -v lintian >/dev/null; then
	lintian --fail-on error,warning "$DEB" >"$T/lintian.log" 2>&1
	rc=$?
	check "lintian: no error or warning" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || cat "$T/lintian.log"
else
	skip "lintian is not installed (apt-get install lintian)"
fi

# --- the cached Debian 12 root ------------------------------------------------
mirror=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
	awk -v s="$SUITE" '$2 == s { print $1; exit }')
key=$(printf '%s\n' "debootstrap --variant=minbase --include=$INCLUDE $SUITE" "$depends" |
	sha256sum | cut -c1-16)
ROOTCACHE=$CACHE/debroot-$SUITE-$key
mkdir -p "$CACHE"
exec 9>"$ROOTCACHE.lock"
if ! flock -w 400 9; then
	fail "another run holds $ROOTCACHE.lock for more than 400 s"
	finish
fi
if [ ! -e "$ROOTCACHE/.complete" ]; then
	if [ -z "$mirror" ]; then
		fail "no $SUITE mirror in this machine's apt sources to debootstrap from"
		finish
	fi
	echo "# building the cached $SUITE root $ROOTCACHE (once; debootstrap from $mirror, about 2 minutes)"
	rm -rf "$ROOTCACHE.new" "$ROOTCACHE"
	start=$(date +%s)
	if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTCACHE.new" "$mirror" \
		>"$T/debootstrap.log" 2>&1; then
		fail "debootstrap $SUITE"
		tail -20 "$T/debootstrap.log"
		finish
	fi
	echo "# debootstrap: $(($(date +%s) - start)) s; downloading the package's dependencies"
	# the dependencies, downloaded only: each run installs them itself
	cp "$DEB" "$ROOTCACHE.new/tmp/agentbox.deb"
	cp /etc/resolv.conf "$ROOTCACHE.new/etc/resolv.conf"
	mount -t proc proc "$ROOTCACHE.new/proc"
	if ! chroot "$ROOTCACHE.new" sh -c 'apt-get update -q &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --download-only --no-install-recommends /tmp/agentbox.deb' \
		>"$T/download.log" 2>&1; then
		umount "$ROOTCACHE.new/proc"
		fail "downloading the dependencies into the cached root"
		tail -20 "$T/download.log"
		finish
	fi
	umount "$ROOTCACHE.new/proc"
	rm -f "$ROOTCACHE.new/tmp/agentbox.deb"
	echo "# cached root ready: $(($(date +%s) - start)) s, $(du -sh "$ROOTCACHE.new" | cut -f1)"
	touch "$ROOTCACHE.new/.complete"
	mv "$ROOTCACHE.new" "$ROOTCACHE"
fi
# a shared lock from here on: nobody rebuilds the root under this run
flock -s 9

# --- a throwaway root: an overlay on the cached one ---------------------------
R=$T/root
mkdir -p "$T/upper" "$T/work" "$R"
if ! mount -t overlay overlay -o "lowerdir=$ROOTCACHE,upperdir=$T/upper,workdir=$T/work" "$R"; then
	fail "overlay mount of the cached root"
	finish
fi
at_exit "umount -R '$R'"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"
# no daemon starts in an image build; and systemd is not running here
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
cp "$DEB" "$R/tmp/"
debname=$(basename "$DEB")
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
# Offline (a network namespace of its own): what apt needs must come from
# the cached downloads. (apt-get --no-download trips over the local .deb.)
# Unsafe I/O: the root is thrown away anyway.
apt_q() {
	unshare --net chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		apt-get -y -q -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-unsafe-io "$@"
}

# --- install -------------------------------------------------------------------
start=$(date +%s)
apt_q install --no-install-recommends "/tmp/$debname" >"$T/install.log" 2>&1
rc=$?
check "apt-get install ./$debname (dependencies by name, offline)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || { tail -30 "$T/install.log"; finish; }
echo "# install with its dependencies: $(($(date +%s) - start)) s"
check "dependencies installed: docker.io, xvfb, novnc, jq" \
	in_root dpkg-query -W -f='${Status}\n' docker.io xvfb novnc jq
for f in /usr/bin/agentbox /usr/bin/agentbox-init /usr/bin/agentbox-monitor /usr/bin/agentbox-display \
	/lib/systemd/system/agentbox-init.service /lib/systemd/system/agentbox-monitor.service \
	/lib/systemd/system/agentbox-display.service /lib/systemd/system/agentbox-xvfb.service \
	/usr/share/man/man1/agentbox.1.gz /usr/share/man/man8/agentbox-init.8.gz \
	/usr/share/man/man8/agentbox-monitor.8.gz /usr/share/man/man8/agentbox-display.8.gz \
	/usr/share/doc/agentbox/copyright /usr/share/doc/agentbox/README.md /etc/agentbox/agentbox.json; do
	check "installed: $f" [ -f "$R$f" ]
done
check "units name the installed paths" \
	sh -c "grep -q '^ExecStart=/usr/bin/agentbox-monitor --config /etc/agentbox/agentbox.json' '$R/lib/systemd/system/agentbox-monitor.service'"
check "workspace user 'agent' created with a home" \
	sh -c "[ \"\$(chroot '$R' getent passwd agent | cut -d: -f6)\" = /home/agent ] && [ -d '$R/home/agent' ]"
for u in agentbox-firewall agentbox-init agentbox-monitor agentbox-display; do
	check "$u enabled (multi-user.target.wants symlink)" \
		[ "$(readlink "$R/etc/systemd/system/multi-user.target.wants/$u.service")" = "/lib/systemd/system/$u.service" ]
done
check "agentbox-xvfb not enabled on its own (pulled in by the display)" \
	sh -c "! ls '$R'/etc/systemd/system/*.wants/agentbox-xvfb.service 2>/dev/null"
# processes whose root is the chroot
procs_in_root() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && cat "$p/comm" 2>/dev/null
	done
}
check "nothing started in the root (no systemd; policy-rc.d)" [ -z "$(procs_in_root)" ]

# --- the programs run --------------------------------------------------------------
check "agentbox --help" sh -c "chroot '$R' agentbox --help | grep -q '^Usage: agentbox'"
check "agentbox-init --version" sh -c "chroot '$R' agentbox-init --version | grep -q '$(cat "$TOP/VERSION")'"
check "agentbox-monitor --check-config on the installed config" \
	sh -c "chroot '$R' agentbox-monitor --check-config >'$T/check-config.out' 2>&1"
check "agentbox-display --help" sh -c "chroot '$R' agentbox-display --help | grep -q exec-xvfb"
check "Xvfb is there for agentbox-xvfb" [ -x "$R/usr/bin/Xvfb" ]
check "noVNC's files are at display.novnc_dir" [ -f "$R/usr/share/novnc/vnc.html" ]

# --- the units verify ---------------------------------------------------------------
# --man=no: man-db is not in this minimal root; the man pages are checked above
in_root sh -c 'systemd-analyze verify --man=no /lib/systemd/system/agentbox-*.service' >"$T/verify.log" 2>&1
rc=$?
check "systemd-analyze verify: every unit clean" sh -c "[ $rc -eq 0 ] && ! grep -q . '$T/verify.log'"
sed 's/^/  verify: /' "$T/verify.log"
for u in agentbox-init agentbox-monitor agentbox-display agentbox-xvfb; do
	score=$(in_root systemd-analyze security --offline=yes "/lib/systemd/system/$u.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \(.*\)$/\1 \2/p')
	echo "# systemd-analyze security --offline=yes $u.service: ${score:-none}"
	check "$u: security exposure computed" [ -n "$score" ]
done

# --- reinstall (the upgrade path): the admin's choices are kept ---------------------
printf '{"workspace": {"name": "default", "user": "agent"}, "idle": {"timeout": "45m"}}\n' \
	>"$R/etc/agentbox/agentbox.json"
in_root deb-systemd-helper disable agentbox-display.service >/dev/null 2>&1
apt_q install --reinstall "/tmp/$debname" >"$T/reinstall.log" 2>&1
check "apt-get install --reinstall" [ $? -eq 0 ]
check "reinstall: the edited config kept" grep -q 45m "$R/etc/agentbox/agentbox.json"
check "reinstall: a unit the admin disabled stays disabled" \
	[ ! -e "$R/etc/systemd/system/multi-user.target.wants/agentbox-display.service" ]
check "reinstall: the others stay enabled" \
	[ -L "$R/etc/systemd/system/multi-user.target.wants/agentbox-monitor.service" ]

# --- remove: config kept, units masked, user kept ---------------------------------
apt_q remove agentbox >"$T/remove.log" 2>&1
check "apt-get remove" [ $? -eq 0 ]
check "removed: binaries and units gone" \
	sh -c "[ ! -e '$R/usr/bin/agentbox' ] && [ ! -e '$R/lib/systemd/system/agentbox-monitor.service' ]"
check "removed: the config kept (conffile)" [ -f "$R/etc/agentbox/agentbox.json" ]
check "removed: the user and its home kept" sh -c "chroot '$R' getent passwd agent >/dev/null && [ -d '$R/home/agent' ]"

# --- purge: nothing of the package left ----------------------------------------------
apt_q purge agentbox >"$T/purge.log" 2>&1
check "apt-get purge" [ $? -eq 0 ]
left=$(cd "$R" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./tmp \) -prune -o -name '*agentbox*' -print)
check "purged: no file named *agentbox* left" [ -z "$left" ]
[ -z "$left" ] || echo "$left" | head -20 | sed 's/^/  left: /'
check "purged: no agentbox symlink under /etc/systemd" \
	sh -c "! find '$R/etc/systemd' -lname '*agentbox*' | grep -q ."
check "purged: dpkg knows nothing of it" sh -c "! chroot '$R' dpkg-query -W agentbox 2>/dev/null | grep -q ."
check "purged: the workspace user's home (user data) kept" [ -d "$R/home/agent" ]

# --- a config written first (cloud-init's write_files) names the user --------------
mkdir -p "$R/etc/agentbox"
printf '{"workspace": {"name": "w", "user": "coder"}}\n' >"$R/etc/agentbox/agentbox.json"
apt_q install "/tmp/$debname" >"$T/install2.log" 2>&1
rc=$?
check "install over a config written first (--force-confold)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -20 "$T/install2.log"
check "the admin's config kept" grep -q coder "$R/etc/agentbox/agentbox.json"
check "workspace user from workspace.user: coder" sh -c "chroot '$R' getent passwd coder | grep -q ':/home/coder:'"
apt_q purge agentbox >"$T/purge2.log" 2>&1
check "purge again" [ $? -eq 0 ]
check "purged: /etc/agentbox gone" [ ! -e "$R/etc/agentbox" ]
finish
