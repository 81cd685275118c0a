#!/usr/bin/env bash
# timeout: 1500
# The end-to-end test (tests/e2e/vm-life.sh, issue 12) as a regress test.
# The VMs run the .deb (a plain build) whatever the build directory is, so
# a sanitizer build would only repeat the same run: it runs once, in the
# plain build. A cold cache adds the VM root's debootstrap (~2-3 min).
case ${AGENTBOX_BUILD:-build} in
*san*)
	echo "SKIP: e2e-vm-life: runs in the plain build only (the VMs run the .deb, never a sanitizer build)"
	exit 0
	;;
esac
exec "$(dirname "$0")/../e2e/vm-life.sh" "$@"
