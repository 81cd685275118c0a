#!/usr/bin/env bash
# The whole life of a workspace VM on one machine (issue 12), against the
# real programs under their shipped units, installed from the .deb by
# cloud-init from user-data made by the project's render step:
#   1  VM 1 boots, cloud-init installs the .deb, agentbox-init brings the
#      workspace up (pull, restore of nothing, container, display, monitor)
#   2  an X program in the workspace container is on the noVNC page
#   3  work as Claude Code does it; status shows it; a terminal is warned
#   4  idle: warning, final backup, verify, DELETE; the fake cloud removes VM 1
#   5  VM 2 from the same user-data restores VM 1's state byte for byte
#   6  quicker: keepalive (no delete), bucket unreachable (no delete, the
#      journal says why), monitor SIGKILLed in the final backup (one DELETE)
# E2E_STEPS="1 2 3 4 5 6" picks steps (4 needs 3, 5 needs 4); E2E_DEMO=1
# narrates (tests/e2e/demo.sh). Everything is torn down at exit.
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/init/lib-docker.sh"
. "$TOP/tests/state/lib-state.sh"
. "$TOP/tests/e2e/lib-vmroot.sh"
. "$TOP/tests/e2e/lib-cloud.sh"
. "$TOP/tests/e2e/lib-vm.sh"
. "$TOP/tests/e2e/lib-release.sh"
. "$TOP/tests/e2e/lib-workspace.sh"
. "$TOP/tests/e2e/lib-e2e.sh"

need_docker
need_cmd debootstrap
need_cmd nsenter
STEPS=${E2E_STEPS:-1 2 3 4 5 6}
want() { [[ " $STEPS " == *" $1 "* ]]; }

# ---- the simulated cloud --------------------------------------------------
phase "the simulated cloud: dockerd, registry, bucket, fake Hetzner, release server"
start_dockerd
start_registry host
cloud_start "e2e-hcloud-token-$$-$RANDOM"
workspace_image agentbox/workspace:e2e
release_deb
vm_image
note "VM root: $(basename "$(vmroot_tarball)") imported in ${VM_IMPORT_SECONDS}s"
note "bucket: $BUCKET_KIND at $S3_ENDPOINT; workspace image: $WORKSPACE_KIND"
note "package: $DEB_URL (sha256 $DEB_SHA256)"
write_env "$T/launch.env" 60s 20s
render_user_data "$T/launch.env" "$T/user-data"
note "user-data: ${RENDER_KIND:-agentbox render-user-data} -> $T/user-data"
done_phase

# ---- 1: VM 1 boots to a ready workspace -----------------------------------
phase "1: VM 1 boots; cloud-init installs the .deb; agentbox-init brings the workspace up"
boot_vm 1 || finish
done_phase

finish
