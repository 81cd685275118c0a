#!/usr/bin/env python3
"""Checks one rendered user-data file (tests/regress/render-user-data.sh).

check-user-data.py USER_DATA MODE SECRETS_JSON OUT_JSON
  MODE: deb or baked
  SECRETS_JSON: {"<path on the VM>": "<file it came from>", ...}
Asserts the structure the render step promises, that every secret is in
its write_files entry only (0600, base64, byte for byte), and nowhere else
in the document in any form; writes the agentbox.json it carries to OUT_JSON.
Prints one line per failed promise and exits 1; silent when all hold."""
import base64
import json
import re
import sys

import yaml

path, mode, secrets_json, out_json = sys.argv[1:5]
text = open(path, encoding="utf-8").read()
doc = yaml.safe_load(text)
secrets = json.load(open(secrets_json))
errors = []


def expect(cond, what):
    if not cond:
        errors.append(what)


expect(text.startswith("#cloud-config\n"), "first line is #cloud-config")
expect(all(32 <= ord(c) < 127 or c in "\n\t" for c in text), "the file is printable ASCII")
unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
expect(not re.search(r"@[A-Z][A-Z0-9_]*@|^\s*@|^##", unquoted, re.M), "no template syntax left")
expect(doc.get("locale") == "C.UTF-8", "locale C.UTF-8 (cloud-init ends 'done' with it)")
expect("package_update" not in doc and "packages" not in doc and "package_upgrade" not in doc,
       "no package_update/packages: a baked image or offline VM boots without a mirror")
expect("bootcmd" not in doc, "no bootcmd")
expect(doc.get("ssh_pwauth") is False and doc.get("disable_root") is True, "keys only, no root login")

users = doc.get("users", [])
expect(len(users) == 2, "two users")
ws, login = users[0], users[1]
expect(isinstance(ws.get("uid"), int), "the workspace user has a numeric uid")
expect("ssh_authorized_keys" not in ws and "sudo" not in ws and "groups" not in ws,
       "the workspace user has no SSH key, sudo or groups")
expect(login.get("ssh_authorized_keys") and login.get("sudo") == "ALL=(ALL) NOPASSWD:ALL",
       "the login user has the SSH keys and sudo")

files = {w["path"]: w for w in doc.get("write_files", [])}
cfg = files.get("/etc/agentbox/agentbox.json")
expect(cfg is not None and cfg.get("permissions") == "0644", "agentbox.json written, 0644")
config = json.loads(cfg["content"])
json.dump(config, open(out_json, "w"))

plain = {d for d, src in secrets.items() if src is None}  # files that are not secret
secrets = {d: src for d, src in secrets.items() if src is not None}
for dest in plain:
    expect(dest in files and files[dest].get("permissions") == "0644", f"{dest}: written, 0644")
for dest, src in secrets.items():
    w = files.get(dest)
    if w is None:
        errors.append(f"{dest}: in write_files")
        continue
    raw = open(src, "rb").read().rstrip(b"\n") + b"\n"
    expect(w.get("permissions") == "0600" and w.get("owner") == "root:root", f"{dest}: root 0600")
    expect(w.get("encoding") == "b64", f"{dest}: base64")
    expect(base64.b64decode(w["content"], validate=True) == raw, f"{dest}: byte for byte")
sshd = files.get("/etc/ssh/sshd_config.d/agentbox.conf")
expect(sshd is not None and sshd["content"] == f"AllowUsers {login['name']}\n",
       "sshd lets only the login user in")
for dest, w in files.items():
    if dest not in ("/etc/agentbox/agentbox.json", "/etc/ssh/sshd_config.d/agentbox.conf"):
        expect(dest in secrets or dest in plain, f"{dest}: an expected file")

# Every secret, whole and line by line, raw and base64, appears nowhere but
# in its own entry's content.
rest = dict(doc)
rest["write_files"] = [w for w in doc.get("write_files", []) if w["path"] not in secrets]
expect(["systemctl", "daemon-reload"] in doc.get("runcmd", []), "runcmd reloads systemd (drop-ins)")
rest_text = yaml.safe_dump(rest) + json.dumps(rest)
for dest, src in secrets.items():
    raw = open(src, "rb").read().rstrip(b"\n")
    pieces = [raw] + [l.split(b"=", 1)[-1].strip() for l in raw.split(b"\n")]
    for p in pieces:
        if len(p) < 6:
            continue
        for form in (p.decode(), base64.b64encode(p).decode()):
            expect(form not in rest_text, f"{dest}: a secret piece appears outside its entry")
    expect(text.count(files[dest]["content"]) == 1 if dest in files else True,
           f"{dest}: its base64 appears once")
for cmd in doc.get("runcmd", []):
    flat = " ".join(cmd) if isinstance(cmd, list) else cmd
    for dest, src in secrets.items():
        raw = open(src).read().strip()
        expect(raw not in flat, f"runcmd holds the secret of {dest}")

runcmd = doc.get("runcmd", [])
expect(runcmd[-1] == ["systemctl", "start", "agentbox-init.service"],
       "runcmd ends by starting agentbox-init")
expect(["systemctl", "enable", "agentbox-init.service"] in runcmd, "runcmd enables agentbox-init")
expect(["usermod", "-aG", "docker,systemd-journal", login["name"]] in runcmd,
       "the login user joins docker and systemd-journal")
installers = [c for c in runcmd if isinstance(c, list) and c[:2] == ["sh", "-c"]]
if mode == "deb":
    expect(len(installers) == 1 and len(installers[0]) == 6, "one deb installer command")
    if installers:
        script = installers[0][2]
        expect("sha256sum -c" in script and "apt-get install" in script, "installer checks and installs")
        expect(script.index("sha256sum -c") < script.index('apt_install "$deb"'),
               "the sha256 is checked before the install")
        open(out_json + ".sh", "w").write(script)
        open(out_json + ".args", "w").write("\n".join(installers[0][4:]) + "\n")
else:
    expect(not installers and "curl" not in text and "apt-get" not in text,
           "baked: nothing downloaded or installed")

for e in errors:
    print(f"{path}: {e}")
sys.exit(1 if errors else 0)
