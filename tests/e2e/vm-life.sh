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
# E2E_STEPS="1 2 3 4 5 6" picks steps (4 needs 3, 5 needs 4);
# tests/e2e/demo.sh narrates it (make demo). Everything is torn down at exit.
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

# a timeout or ^C still tears everything down (the EXIT trap of tests/lib.sh)
trap "exit 143" TERM INT
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
note "package: $DEB_URL ($DEB_KB KiB, sha256 $DEB_SHA256)"
write_env "$T/launch.env" ws 60s 20s
render_user_data "$T/launch.env" "$T/user-data"
note "user-data: agentbox render-user-data $T/launch.env -> $T/user-data"
done_phase

# ---- 1: VM 1 boots to a ready workspace -----------------------------------
phase "1: VM 1 boots; cloud-init installs the .deb; agentbox-init brings the workspace up"
boot_vm 1 || finish
FIG_BOOT=$BOOT_SECONDS FIG_INIT=$INIT_TOTAL
done_phase

# ---- 2: an X program of the workspace on the noVNC page ------------------
if want 2; then
	phase "2: an X program in the workspace container, seen through noVNC in headless Chromium"
	step_screen 1
	done_phase
fi

# ---- 3: work as Claude Code does it ----------------------------------------
if want 3; then
	phase "3: a session, a project file and a busy agent in the container; a logged-in terminal"
	step_work 1
	done_phase
fi

# ---- 4: idle -> warning -> final backup -> verify -> DELETE -----------------
if want 4; then
	phase "4: work stops; warning, final backup, verify, DELETE; the fake cloud removes VM 1"
	step_idle_delete 1 || finish
	done_phase
fi

# ---- 5: VM 2 from the same user-data restores the state --------------------
if want 5; then
	phase "5: VM 2 boots from the same user-data and restores VM 1's state"
	step_relaunch 2 1
	done_phase
fi

# ---- 6: the quicker scenarios, three VMs at once ---------------------------
if want 6; then
	phase "6: keepalive (no delete), bucket unreachable (no delete), monitor SIGKILLed in the final backup"
	step_quick 3 4 5
	done_phase
fi

report
finish
