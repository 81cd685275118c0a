#!/usr/bin/env bash
# timeout: 1500
# The end-to-end test (tests/e2e/vm-life.sh, issue 12) as a regress test.
# The VMs run the .deb (a plain build) whatever the build directory is, so
# in a sanitizer build only step 1 runs: the user-data is rendered by that
# build's agentbox under the sanitizers and VM 1 must boot from it. A cold
# cache adds the VM root's debootstrap (~2-5 min).
case ${AGENTBOX_BUILD:-build} in
*san*) export E2E_STEPS=1 ;;
esac
exec "$(dirname "$0")/../e2e/vm-life.sh" "$@"
