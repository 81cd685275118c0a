#!/usr/bin/env python3
"""Data for the state benchmarks (bench/state*.sh), one generator for all,
deterministic (seeded) except for the random blobs:

  data.py claude ROOT SCALE       ~640 MiB x SCALE in ROOT (a ~/.claude):
                                  a source tree of 12,000 files of 1-48 KiB,
                                  40 JSONL transcripts of ~5 MiB, three
                                  50 MiB random files (bench/state-rgw.sh)
  data.py files ROOT N            N small files of 0-299 bytes in 1,000
                                  directories (the unchanged-tree skip)
  data.py workspace HOME MB REPO  ~MB MiB of a workspace: HOME/.claude with
                                  JSONL transcripts and the sessions of its
                                  projects, HOME/.claude.json, and HOME/work
                                  with a git clone of REPO (its history), a
                                  project made of /usr/include's sources
                                  committed in three commits, and a few large
                                  files (random and compressible)
"""
import json, os, random, shutil, subprocess, sys

rnd = random.Random(1)
WORDS = [bytes(rnd.choice(b'abcdefghijklmnopqrstuvwxyz_') for _ in range(rnd.randrange(2, 12)))
         for _ in range(5000)]


def text(n):
    out, size = [], 0
    while size < n:
        w = rnd.choice(WORDS) + (b'\n' if rnd.random() < 0.1 else b' ')
        out.append(w)
        size += len(w)
    return b''.join(out)[:n]


def transcripts(d, count, size, chunk):
    """count JSONL transcripts of about size bytes each, in d."""
    os.makedirs(d, exist_ok=True)
    for s in range(count):
        with open(os.path.join(d, 'session-%02d.jsonl' % s), 'w') as f:
            n = 0
            while n < size:
                off = rnd.randrange(0, len(chunk) - 2000)
                line = json.dumps({"type": rnd.choice(["user", "assistant", "tool_result"]),
                                   "uuid": "%032x" % rnd.getrandbits(128), "session": s,
                                   "message": {"content": chunk[off:off + rnd.randrange(50, 2000)].decode()}})
                f.write(line + '\n')
                n += len(line) + 1


def random_file(path, mib):
    with open(path, 'wb') as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


def claude(root, scale):
    chunk = text(8 << 20)
    for i in range(int(12000 * scale)):  # a source tree: 12,000 files of 1-48 KiB
        d = os.path.join(root, 'projects', 'src', 'm%d' % (i % 40), 'd%d' % (i % 15))
        os.makedirs(d, exist_ok=True)
        n = rnd.randrange(1 << 10, 48 << 10)
        off = rnd.randrange(0, len(chunk) - n)
        with open(os.path.join(d, 'f%d.c' % i), 'wb') as f:
            f.write(chunk[off:off + n])
    transcripts(os.path.join(root, 'projects', '-work-app'), int(40 * scale), 5 << 20, chunk)
    for b in range(3):  # three large incompressible files
        random_file(os.path.join(root, 'blob-%d.bin' % b), int(50 * scale))


def files(root, n):
    for i in range(n):
        d = os.path.join(root, 'projects', 'p%d' % (i % 100), 'd%d' % (i % 10))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'f%d' % i), 'w') as f:
            f.write('x' * (i % 300))


def git(cwd, *args):
    subprocess.run(['git', '-c', 'user.email=bench@agentbox', '-c', 'user.name=bench',
                    '-c', 'commit.gpgsign=false', *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL)


def du(path):
    total = 0
    for dp, dn, fn in os.walk(path):
        for f in fn:
            try:
                total += os.lstat(os.path.join(dp, f)).st_size
            except OSError:
                pass
    return total


def workspace(home, mb, repo):
    budget = mb << 20
    work = os.path.join(home, 'work')
    claude_dir = os.path.join(home, '.claude')
    os.makedirs(work, exist_ok=True)
    chunk = text(8 << 20)
    # a real source tree with its history: this repository
    subprocess.run(['git', 'clone', '-q', '--no-hardlinks', repo, os.path.join(work, 'agentbox')],
                   check=True)
    # a project of real C headers, committed in three steps (a history
    # whose objects are in .git beside the checkout), up to a fifth of it
    inc = os.path.join(work, 'sysroot')
    os.makedirs(inc)
    git(inc, 'init', '-q')
    room = budget // 5
    names = []
    for dp, dn, fn in os.walk('/usr/include'):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(dp, f)
            if os.path.isfile(p) and not os.path.islink(p):
                names.append(p)
    step = max(1, len(names) // 3)
    for c in range(3):
        for p in names[c * step:(c + 1) * step if c < 2 else len(names)]:
            if room <= 0:
                break
            dst = os.path.join(inc, 'include', os.path.relpath(p, '/usr/include'))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(p, dst)
            room -= os.path.getsize(p)
        git(inc, 'add', '-A')
        git(inc, 'commit', '-q', '-m', 'import %d' % c, '--allow-empty')
    # uncommitted work in it
    with open(os.path.join(inc, 'NOTES.md'), 'w') as f:
        f.write('work in progress\n')
    # the agent's state: transcripts of the two projects, config
    used = du(home)
    tr = max(1, min(budget // 4, budget - used) // (5 << 20))
    for proj in ('agentbox', 'sysroot'):
        name = os.path.join(work, proj).replace('/', '-').replace('.', '-')
        transcripts(os.path.join(claude_dir, 'projects', name), (tr + 1) // 2, 5 << 20, chunk)
    with open(os.path.join(home, '.claude.json'), 'w') as f:
        json.dump({"numStartups": 12, "projects": {os.path.join(work, p): {} for p in ('agentbox', 'sysroot')}}, f)
    # a few large files: two random (a model, an archive), one compressible
    # (a database dump), filling what is left
    left = max(0, budget - du(home)) >> 20
    big = os.path.join(work, 'data')
    os.makedirs(big)
    random_file(os.path.join(big, 'model.bin'), left * 3 // 8)
    random_file(os.path.join(big, 'assets.tar'), left * 2 // 8)
    with open(os.path.join(big, 'dump.sql'), 'wb') as f:
        for _ in range(left * 3 // 8 // 8):
            f.write(chunk)


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'claude':
        claude(sys.argv[2], float(sys.argv[3]))
    elif mode == 'files':
        files(sys.argv[2], int(sys.argv[3]))
    elif mode == 'workspace':
        workspace(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit('usage: see bench/data.py')
