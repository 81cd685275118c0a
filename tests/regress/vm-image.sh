#!/usr/bin/env bash
# The VM image recipe (images/vm/): Debian's packer validates the template
# for both builders (hcloud, amazon-ebs) with no network at all, and refuses
# a broken one; packages.txt names only packages Debian 12 has, and every
# library agentbox's programs link, so the .deb installs without a mirror;
# the provisioning script passes shellcheck.
. "$(dirname "$0")/../lib.sh"
need_cmd packer
VM=$TOP/images/vm
PKG_LIST=$VM/packages.txt

# packer must not reach any network (nor a metadata service): it runs in a
# network namespace of its own with nothing but lo.
if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null; then
	skip "packer validate: needs root and unshare -n (packer is never run outside a namespace)"
	exit 0
fi
cp -r "$VM" "$T/vm"
printf 'not a real deb' >"$T/agentbox.deb"
validate() { # DIR [packer args...]
	local dir=$1
	shift
	(cd "$dir" && unshare -n timeout 120 packer validate -var deb="$T/agentbox.deb" \
		-var workspace_image=registry.example/agent:1 -var hcloud_token=validate-only-token "$@" .)
}
check "packer validate: hcloud and amazon-ebs, offline" validate "$T/vm"
check "packer validate -only=hcloud.debian12" validate "$T/vm" -only=hcloud.debian12
check "packer validate -only=amazon-ebs.debian12" validate "$T/vm" -only=amazon-ebs.debian12
if (cd "$T/vm" && unshare -n timeout 120 packer validate -var deb="$T/missing.deb" \
	-var workspace_image=x/y:1 -var hcloud_token=validate-only-token . >"$T/missing.log" 2>&1); then
	fail "packer validate refuses a missing .deb"
else
	check "packer validate refuses a missing .deb" grep -q 'missing.deb' "$T/missing.log"
fi
cp -r "$T/vm" "$T/broken"
sed -i 's/snapshot_name/snapshot_nam/' "$T/broken/agentbox.pkr.hcl"
if validate "$T/broken" >/dev/null 2>&1; then
	fail "packer validate refuses an unknown setting"
else
	pass "packer validate refuses an unknown setting"
fi

# packages.txt: the format the readers assume, and real package names.
pkgs=$(grep -v -e '^#' -e '^[[:space:]]*$' "$PKG_LIST")
check "packages.txt: one bare name a line" sh -c '! grep -v -e "^#" -e "^[[:space:]]*\$" "$1" | grep -vqE "^[a-z0-9][a-z0-9.+-]+\$"' _ "$PKG_LIST"
# apt-cache policy leaves out unknown names and says "(none)" for virtual ones
# shellcheck disable=SC2086 # one name a word
installable=$(apt-cache policy $pkgs | awk '/^[^ ].*:$/ {n = substr($1, 1, length($1) - 1)}
	$1 == "Candidate:" && $2 != "(none)" {print n}')
missing=
for p in $pkgs; do
	grep -qx -- "$p" <<<"$installable" || missing="$missing $p"
done
check "packages.txt: every package is in Debian (apt-cache policy)${missing:+, not:$missing}" [ -z "$missing" ]
for p in systemd cloud-init docker.io xvfb novnc curl ca-certificates python3-cffi-backend zstd; do
	check "packages.txt has $p" grep -qx "$p" "$PKG_LIST"
done

# Every library the programs link (their NEEDED entries) comes from a
# package of the list (libc6 is essential).
if command -v objdump >/dev/null; then
	libpkgs=$(for b in "$BIN"/agentbox "$BIN"/agentbox-monitor "$BIN"/agentbox-init "$BIN"/agentbox-display; do
		[ -x "$b" ] && objdump -p "$b" | awk '$1 == "NEEDED" {print $2}'
	done | sort -u | while read -r so; do
		f=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ {print $NF; exit}')
		[ -n "$f" ] && dpkg -S "$(readlink -f "$f")" 2>/dev/null | cut -d: -f1
	done | sort -u | grep -v -e '^libc6$' -e '^libasan' -e '^libubsan' -e '^libgcc')
	absent=
	for p in $libpkgs; do grep -qx "$p" "$PKG_LIST" || absent="$absent $p"; done
	check "packages.txt: every library the programs link${absent:+, missing:$absent}" \
		sh -c '[ -n "$1" ] && [ -z "$2" ]' _ "$libpkgs" "$absent"
else
	skip "library coverage: needs objdump (binutils)"
fi

# The .deb's dependencies (when "make deb" has made one in this build):
# each one, or one of its alternatives, is in the list.
deb=$(ls "$BUILD"/agentbox_*.deb 2>/dev/null | head -1)
if [ -n "$deb" ]; then
	unmet=
	while read -r group; do
		ok=
		IFS='|' read -ra alts <<<"$group"
		for a in "${alts[@]}"; do
			a=$(echo "$a" | sed 's/(.*//; s/[[:space:]]//g')
			# essential or always present on Debian 12
			case $a in libc6 | libgcc-s1 | passwd | systemd) ok=1 ;; esac
			grep -qx -- "$a" "$PKG_LIST" && ok=1
		done
		[ -n "$ok" ] || unmet="$unmet [$group]"
	done < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//')
	check "packages.txt: every dependency of $(basename "$deb")${unmet:+, missing:$unmet}" [ -z "$unmet" ]
else
	skip "the .deb's dependencies: no $BUILD/agentbox_*.deb (make deb)"
fi

if command -v shellcheck >/dev/null; then
	check "provision.sh passes shellcheck" shellcheck "$VM/provision.sh"
	check "cloud-init/install-deb.sh passes shellcheck" shellcheck -s sh "$TOP/cloud-init/install-deb.sh"
else
	check "provision.sh parses" sh -n "$VM/provision.sh"
	skip "shellcheck not installed"
fi
finish
