#!/bin/sh
# Runs as root on the Packer build VM (agentbox.pkr.hcl): installs
# packages.txt and agentbox's .deb, creates the workspace user with the
# workspace image's uid, pulls the workspace image, and removes what must
# not be in a snapshot (this VM's cloud-init state, machine id, logs, a
# registry login). Environment: WORKSPACE_IMAGE, WORKSPACE_USER,
# WORKSPACE_UID, REGISTRY_USERNAME and REGISTRY_PASSWORD (may be empty).
set -eux
export DEBIAN_FRONTEND=noninteractive

# The build VM's own first boot may still be installing things.
cloud-init status --wait >/dev/null || true

apt-get update
grep -v -e '^#' -e '^[[:space:]]*$' /tmp/agentbox-packages.txt |
	xargs apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600

# Before the .deb, whose postinst would take the next free uid: the
# workspace user's files are shared with the container's user by uid.
if ! id -u "$WORKSPACE_USER" >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash --uid "$WORKSPACE_UID" "$WORKSPACE_USER"
fi
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 /tmp/agentbox.deb
systemctl enable docker.service agentbox-init.service

# The workspace image, so that boot pulls only what changed since (and
# starts from this copy when the registry is unreachable).
systemctl start docker.service
if [ -n "$REGISTRY_USERNAME" ]; then
	registry=${WORKSPACE_IMAGE%%/*}
	printf '%s' "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USERNAME" --password-stdin "$registry"
fi
docker pull "$WORKSPACE_IMAGE"
if [ -n "$REGISTRY_USERNAME" ]; then
	docker logout "$registry"
fi
rm -rf /root/.docker

# Nothing of this VM in the snapshot: agentbox's state, cloud-init's record
# of this instance (so the next boot runs the user-data), the machine id,
# logs and the package cache.
systemctl stop agentbox-monitor.service agentbox-display.service agentbox-xvfb.service \
	agentbox-init.service 2>/dev/null || true
rm -rf /var/lib/agentbox/* /tmp/agentbox.deb /tmp/agentbox-packages.txt
apt-get clean
cloud-init clean --logs
truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id
journalctl --rotate --vacuum-time=1s >/dev/null 2>&1 || true
sync
