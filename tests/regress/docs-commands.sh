#!/usr/bin/env bash
# docs/quickstart.md and docs/operations.md, followed as a user would with
# no network: the quickstart's blocks run in order (heredocs, env files,
# agentbox render-user-data, and every aws and hcloud command through the
# real CLIs, which must accept all options and values and fail only at
# connecting), the rendered user-data is valid, and every agentbox,
# journalctl, systemctl and packer command and MESSAGE_ID in the docs
# exists (tests/render/follow-docs.py).
. "$(dirname "$0")/../lib.sh"
need_cmd hcloud
need_cmd cloud-init
need_cmd packer
[ -x /usr/bin/aws ] || { skip "needs Debian's awscli (/usr/bin/aws)"; exit 0; }
python3 -c 'import yaml' 2>/dev/null || { skip "needs python3-yaml"; exit 0; }
# The cloud CLIs must reach nothing, not even a metadata service: a
# network namespace with nothing but lo.
if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null; then
	skip "needs root and unshare -n (the cloud CLIs never run outside a namespace)"
	exit 0
fi
unshare -n python3 "$TOP/tests/render/follow-docs.py" "$TEST_NAME" "$BIN/agentbox" "$T" \
	"$TOP/docs/quickstart.md" "$TOP/docs/operations.md" "$TOP/images/vm/README.md"
