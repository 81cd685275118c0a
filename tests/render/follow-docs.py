#!/usr/bin/env python3
"""Follows docs/quickstart.md and docs/operations.md as a user would, with
no network (tests/regress/docs-commands.sh runs it in a network namespace
with nothing but lo).

follow-docs.py TEST_NAME AGENTBOX_BIN WORKDIR DOC...

- Each ```sh block of quickstart.md whose commands are all local or cloud
  CLI calls runs for real, in order, in one directory (as the user's
  ~/.config/agentbox): its heredocs write the files, its env files (the
  blocks that start with PROVIDER=) are written under the name the text
  gives them, `agentbox render-user-data` renders them, and every `aws` and
  `hcloud` call goes to the real CLI, which must parse and accept all its
  options and values and fail only at connecting (aws: to an endpoint on
  127.0.0.1 that nobody serves; hcloud: no route to its API).
- In every block, each agentbox, journalctl, systemctl and packer command
  uses only options its program knows, and each MESSAGE_ID is one
  docs/journal.md lists.
Prints PASS:/FAIL: lines."""
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys

name, agentbox, work = sys.argv[1:4]
docs = sys.argv[4:]
top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failed = False


def result(ok, what):
    global failed
    print(("PASS" if ok else "FAIL") + f": {name}: {what}")
    failed |= not ok


def blocks(path):
    """(language, text, the prose before it) of each fenced block."""
    text = open(path).read()
    out, prose = [], []
    for m in re.finditer(r"^```(\w*)\n(.*?)^```\n", text, re.M | re.S):
        out.append((m.group(1), m.group(2), text[: m.start()][-400:]))
    return out


def logical_lines(code):
    """Lines with continuations joined and heredoc bodies left out."""
    lines, cur, heredoc = [], "", None
    for raw in code.splitlines():
        if heredoc:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<'?(\w+)'?", raw)
        if m:
            heredoc = m.group(1)
        if raw.endswith("\\"):
            cur += raw[:-1] + " "
            continue
        lines.append(cur + raw)
        cur = ""
    return [l for l in lines if l.strip()]


def commands(line):
    """[(program, [args])] of a shell line: after ; && || | ( $( and sudo."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
    lex.whitespace_split = True
    lex.commenters = "#"
    try:
        toks = list(lex)
    except ValueError:
        return []
    out, i = [], 0
    while i < len(toks):
        while i < len(toks) and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", toks[i]) or toks[i] == "sudo"
                                 or re.fullmatch(r"[;&|()]+", toks[i])):
            i += 1
        if i >= len(toks):
            break
        j = i
        while j < len(toks) and not re.fullmatch(r"[;&|()]+", toks[j]):
            j += 1
        out.append((toks[i], toks[i + 1:j]))
        i = j
    return out


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


help_cache = {}


def help_text(prog, sub):
    key = (prog, tuple(sub))
    if key not in help_cache:
        if prog == "agentbox":
            t = run([agentbox, "--help"]).stdout + run([agentbox, "render-user-data", "--help"]).stdout
            t += open(os.path.join(top, "docs/man/agentbox.1")).read().replace("\\-", "-")
        elif prog == "packer":
            t = run(["packer", sub[0], "-h"]).stderr + run(["packer", sub[0], "-h"]).stdout
        else:
            t = run([prog, "--help"]).stdout
        help_cache[key] = t
    return help_cache[key]


message_ids = set(re.findall(r"`([0-9a-f]{32})`", open(os.path.join(top, "docs/journal.md")).read()))
CHECKED = {"agentbox", "journalctl", "systemctl", "packer"}


def check_options(prog, args, where):
    sub = [a for a in args if not a.startswith("-")][:1]
    text = help_text(prog, sub)
    if prog == "agentbox":
        words = [a for a in args if not a.startswith("-")]
        if words and not re.search(r"^\s+" + re.escape(words[0]) + r"\b", text, re.M):
            result(False, f"{where}: agentbox has no command {words[0]}")
            return
    for a in args:
        if prog == "packer":
            flag = a.split("=")[0] if a.startswith("-") else None
        else:
            flag = a.split("=")[0] if a.startswith("--") else (a if re.fullmatch(r"-[a-zA-Z]", a) else None)
        if flag and not re.search(r"(^|[\s\[,(])" + re.escape(flag) + r"([\s=\],|]|$)", text, re.M):
            result(False, f"{where}: {prog} has no option {flag}")
            return
        m = re.match(r"MESSAGE_ID=(\w+)", a)
        if m and m.group(1) not in message_ids:
            result(False, f"{where}: MESSAGE_ID {m.group(1)} is not in docs/journal.md")
            return
    result(True, f"{where}: {prog} {' '.join(args)[:60]}")


# The user's directory and the wrappers the executed blocks find first.
home = os.path.join(work, "home")
conf = os.path.join(home, ".config/agentbox")
wrap = os.path.join(work, "wrap")
os.makedirs(conf, exist_ok=True)
os.makedirs(wrap, exist_ok=True)
log = os.path.join(work, "calls.log")
wrappers = {
    # a fake key; an endpoint on lo that nobody serves; no metadata service
    "aws": """AWS_ACCESS_KEY_ID=AKIADOCSTEST AWS_SECRET_ACCESS_KEY=docs-test AWS_DEFAULT_REGION=eu-central-1 \\
AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_MAX_ATTEMPTS=1 \\
/usr/bin/aws --endpoint-url http://127.0.0.1:9 --cli-connect-timeout 1 "$@" 2>"$err" >/dev/null
rc=$?
case "$*" in *--query*) echo DOCS-TEST-VALUE ;; esac""",
    "hcloud": """case "$1 $2" in
"context create") rc=0; : >"$err" ;;  # interactive: asks for the token
*) HCLOUD_TOKEN=docs-test-token hcloud "$@" 2>"$err" >/dev/null; rc=$? ;;
esac""",
    "agentbox": f"""'{agentbox}' "$@" 2>"$err"; rc=$?""",
}
for prog, body in wrappers.items():
    p = os.path.join(wrap, prog)
    with open(p, "w") as f:
        f.write(f"""#!/bin/bash
PATH=${{PATH#{wrap}:}}
err=$(mktemp)
{body}
printf '%s\\t%s\\t%s\\n' "{prog} $*" "$rc" "$(tr '\\n' ' ' <"$err")" >>'{log}'
rm -f "$err"
exit $rc
""")
    os.chmod(p, 0o755)
pub = os.path.join(work, "id_ed25519.pub")
open(pub, "w").write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDocsTestDocsTestDocsTest you@laptop\n")
vars_file = os.path.join(work, "vars.sh")
open(vars_file, "w").close()
RUNNABLE = {"aws", "hcloud", "agentbox", "cat", "printf", "install", "cd", "umask", "echo"}

for doc in docs:
    base = os.path.basename(doc)
    for n, (lang, code, before) in enumerate(blocks(doc), 1):
        where = f"{base} block {n}"
        if lang == "hcl":
            if not shutil.which("terraform"):
                print(f"SKIP: {name}: {where}: terraform fmt -check (no terraform)")
                continue
            r = subprocess.run(["terraform", "fmt", "-check", "-"], input=code, capture_output=True,
                               text=True, timeout=60, env=dict(os.environ, CHECKPOINT_DISABLE="1"))
            result(r.returncode == 0, f"{where}: Terraform snippet passes terraform fmt -check {r.stdout[:200]}")
            continue
        if lang != "sh":
            continue
        if code.startswith("PROVIDER="):
            envname = re.findall(r"`(\w+\.env)`", before)
            if not envname:
                result(False, f"{where}: an env file block without its name before it")
                continue
            text = code.replace("<sha256sum of the .deb>", "0" * 64).replace(
                "/home/you/.ssh/id_ed25519.pub", pub)
            open(os.path.join(conf, envname[-1]), "w").write(text)
            result(True, f"{where}: env file {envname[-1]}")
            continue
        lines = logical_lines(code)
        cmds = [c for l in lines for c in commands(l)]
        for prog, args in cmds:
            if prog in CHECKED:
                check_options(prog, args, where)
        names = sorted(set(re.findall(r"^\s*([A-Z][A-Z0-9_]*)=", code, re.M)))
        if base != "quickstart.md" or not (cmds or names) or any(p not in RUNNABLE for p, _ in cmds):
            continue
        open(log, "w").close()
        env = dict(os.environ, HOME=home, PATH=wrap + ":" + os.environ["PATH"])
        # the shell variables a block sets (REGION, SG, ...) live on, as in
        # the user's terminal
        save = "".join(f'; [ -n "${{{v}+x}}" ] && declare -p {v} >>"$VARS"' for v in names)
        env["VARS"] = vars_file
        subprocess.run(["bash", "-c", f'. "$VARS"\n{code}\ntrue{save}'], cwd=conf, env=env,
                       capture_output=True, text=True, timeout=300)
        calls = [l.split("\t") for l in open(log).read().splitlines()]
        for call, rc, err in calls:
            prog = call.split()[0]
            if prog == "aws":
                ok = "Could not connect to the endpoint URL" in err
            elif prog == "hcloud":
                ok = rc == "0" or ("dial tcp" in err and "unknown" not in err and "required" not in err)
            else:
                ok = rc == "0"
            result(ok, f"{where}: {call[:90]}" + ("" if ok else f" -> status {rc}: {err[:300]}"))
        want = sum(1 for p, _ in cmds if p in wrappers)
        if not want:
            continue
        result(len(calls) == want, f"{where}: ran its {want} cloud/agentbox commands ({len(calls)} ran)")

# hcloud commands written inline in the prose: their subcommand and options
# exist (hcloud SUB... --help).
for doc in docs:
    text = re.sub(r"^```.*?^```\n", "", open(doc).read(), flags=re.M | re.S)
    for span in re.findall(r"`(hcloud [^`]+)`", text):
        words = shlex.split(span)
        sub = []
        for w in words[1:]:
            if w.startswith("-") or len(sub) == 2:
                break
            sub.append(w)
        r = run(["hcloud"] + sub + ["--help"])
        flags = [w.split("=")[0] for w in words if w.startswith("--")]
        bad = [f for f in flags if not re.search(r"\s" + re.escape(f) + r"\b", r.stdout)]
        ok = r.returncode == 0 and "Usage:" in r.stdout and not bad
        if ok and len(sub) == 2:  # "hcloud server ip": the second word is a command of the first
            ok = re.search(r"^\s+" + re.escape(sub[1]) + r"\s", run(["hcloud", sub[0], "--help"]).stdout, re.M) is not None
        result(ok, f"{os.path.basename(doc)}: `{span}`" + (f" unknown {bad}" if bad else ""))

# What the executed blocks left: the rendered user-data, 0600, valid.
for y in ("hetzner.yaml", "ec2.yaml"):
    p = os.path.join(conf, y)
    ok = os.path.exists(p) and stat.S_IMODE(os.stat(p).st_mode) == 0o600
    result(ok, f"quickstart renders {y} (0600)")
    if ok:
        r = run(["cloud-init", "schema", "--config-file", p])
        result(r.returncode == 0, f"quickstart's {y} passes cloud-init schema {r.stderr[:200]}")
sys.exit(1 if failed else 0)
