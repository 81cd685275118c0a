#!/usr/bin/env bash
# The cloud-init user-data templates: valid YAML, a #cloud-config header,
# every secret file 0600, and an agentbox.json that the programs accept
# (placeholders filled with sample values).
. "$(dirname "$0")/../lib.sh"
need_cmd jq
python3 -c 'import yaml' 2>/dev/null || { skip "needs python3 yaml"; exit 0; }
mkdir -p "$T/home"
for f in "$TOP"/cloud-init/*.yaml; do
	n=$(basename "$f" .yaml)
	check "$n: starts with #cloud-config" [ "$(head -1 "$f")" = "#cloud-config" ]
	sed -e 's/@[A-Z0-9_]*@/sample/g' "$f" >"$T/$n.yaml"
	check "$n: valid YAML with runcmd enabling agentbox-init" python3 - "$T/$n.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert any("agentbox-init.service" in " ".join(c) for c in d["runcmd"])
assert "docker.io" in d["packages"]
for w in d["write_files"]:
    if "credentials" in w["path"] or "token" in w["path"]:
        assert w["permissions"] == "0600", w["path"]
PY
	python3 - "$T/$n.yaml" "$T/$n.json" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
c = [w for w in d["write_files"] if w["path"] == "/etc/agentbox/agentbox.json"][0]
open(sys.argv[2], "w").write(c["content"])
PY
	# a branch without lib/provider does not know provider.* yet
	drop=.
	grep -q '`provider.name`' "$TOP/docs/configuration.md" || drop='del(.provider)'
	jq --arg h "$T/home" "$drop | .workspace.home = \$h" "$T/$n.json" >"$T/$n.j3"
	check "$n: its agentbox.json passes --check-config" "$BIN/agentbox-monitor" --check-config -c "$T/$n.j3"
done
finish
