# install-deb URL SHA256: downloads the agentbox .deb, checks its sha256
# and installs it with its dependencies. The package index is fetched only
# when something is missing, so a VM whose image has every dependency
# boots without a package mirror.
set -eu
deb=/var/cache/agentbox/agentbox.deb
export DEBIAN_FRONTEND=noninteractive
apt_install() {
	apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}
if ! command -v curl >/dev/null; then
	apt-get update
	apt_install curl ca-certificates
fi
mkdir -p /var/cache/agentbox
curl -fsSL --retry 5 --retry-connrefused --connect-timeout 20 --max-time 900 -o "$deb.part" "$1"
echo "$2  $deb.part" | sha256sum -c --strict -
mv "$deb.part" "$deb"
# --force-confold: /etc/agentbox/agentbox.json came from write_files.
apt_install "$deb" || { apt-get update && apt_install "$deb"; }
