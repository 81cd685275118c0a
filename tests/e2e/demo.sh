#!/usr/bin/env bash
# make demo: the life of a workspace VM on this machine, narrated: the
# scenario of tests/e2e/vm-life.sh (steps 1-5; DEMO_STEPS="1 2 3 4 5 6" for
# all; DEMO_WORKSPACE=real for the real workspace image), with a timeline at the end and its screenshot, journals and cloud
# calls kept in build/demo/. Leaves nothing running. Needs root (dockerd,
# network namespaces) and the packages of .ci/deps.
set -u
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (a private dockerd, network namespaces)"; exit 1; }
export AGENTBOX_BUILD=${AGENTBOX_BUILD:-build}
export E2E_STEPS=${DEMO_STEPS:-1 2 3 4 5}
export E2E_ARTIFACTS=$PWD/build/demo
# DEMO_WORKSPACE=real: the real workspace image (images/workspace; its first
# build takes minutes and needs the npm registry, then it is cached)
export E2E_WORKSPACE=${DEMO_WORKSPACE:-standin}
start=$(date +%s)
cat <<'TXT'
agentbox demo: a simulated Hetzner cloud in a network namespace (metadata
service at 169.254.169.254, API, Ceph RGW bucket, registry, release server),
and VMs that are systemd containers booted by cloud-init from the user-data
"agentbox render-user-data" makes. Nothing leaves this machine.
TXT
tests/e2e/vm-life.sh 2>&1 | sed -u -e 's/^PASS: vm-life: /   ok   /' -e 's/^FAIL: vm-life: /   FAIL /' -e 's/^SKIP: vm-life: /   skip /'
rc=${PIPESTATUS[0]}
echo
echo "make demo took $(($(date +%s) - start)) s (status $rc)"
cat <<TXT
Where to look:
  $E2E_ARTIFACTS/step2-novnc.png        the workspace's X client in noVNC (step 2; -restarted: after a display restart)
  $E2E_ARTIFACTS/e2e-vm1-*.journal.txt  VM 1's journal, exported by the fake cloud before it removed the VM
  $E2E_ARTIFACTS/calls.jsonl            every metadata and API call the fake cloud answered
  $E2E_ARTIFACTS/timeline.txt           the timeline above
TXT
exit "$rc"
