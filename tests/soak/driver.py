#!/usr/bin/env python3
"""The soak's load and its sampler, in one 1-second loop (tests/regress/monitor-soak.sh).

Each second, while the churn runs:
  files      20 files created, written and removed under the watch path, and
             a line appended to the state path (so periodic backups have work)
  processes  20 short-lived processes; every 6 s an agent stand-in
             ("claude", tests/helpers/spin) burns CPU for ~2.5 s
  sockets    5 connections opened and closed on an unwatched loopback port;
             every 6 s bytes sent over a connection to the watched port
and it samples agentbox-monitor (VmRSS, open fds) and its children (count,
summed VmRSS and fds, zombies), and status.json (state, each signal's
last_active, backups). Expected activity is checked 3 s after each event:
the signal's last_active must have reached it (else a "missed" event). The
state must be "active" in every sample (else a "false idle").

Then the churn stops and the box must go idle within the timeout plus 8 s.
Writes one CSV row a second and prints a summary as KEY=VALUE lines.
Every loop is bounded by the duration given; nothing outlives it.
"""
import json
import os
import socket
import subprocess
import sys
import time

CHECK_AFTER = 3  # seconds after an event that its signal must show it


def read_status(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def proc_rss_fds(pid):
    rss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0, 0
    return rss, fds


def fd_targets(pid):
    out = {}
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass
    except OSError:
        pass
    return out


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def descendants(pid):
    pending, seen = children(pid), []
    while pending:
        c = pending.pop()
        seen.append(c)
        pending += children(c)
    return seen


def main():
    (mon, status_path, watch, state_file, spin, port, quiet_port, seconds, timeout,
     csv_path) = sys.argv[1:11]
    mon, port, quiet_port = int(mon), int(port), int(quiet_port)
    seconds, timeout = int(seconds), int(timeout)

    quiet = socket.socket()
    quiet.bind(("127.0.0.1", quiet_port))
    quiet.listen(64)
    quiet.setblocking(False)
    watched = socket.create_connection(("127.0.0.1", port), timeout=5)

    pending = []  # (check_at, signal, event unix time)
    missed, checked = [], 0
    false_idle = []
    agent = None
    agent_until = 0
    zombie_runs, zombie_max = {}, 0
    start = time.time()
    csv = open(csv_path, "w")
    csv.write("t,state,monitor_rss_kib,monitor_fds,children,children_rss_kib,children_fds,"
              "zombies,backups_ok,backup_failures,generation,missed,monitor_base_fds\n")
    last_backup, backups_ok, backup_failures = None, 0, 0
    generations = set()
    prev_targets, fd_changes = None, []
    stale_runs, stale_max = {}, 0
    prev_set = prev_persistent = None
    base_changes = []

    for i in range(seconds):
        tick_start = start + i
        now = time.time()
        if tick_start > now:
            time.sleep(tick_start - now)
        now = time.time()

        # --- churn ---
        for k in range(20):
            p = os.path.join(watch, f"churn-{k}.txt")
            with open(p, "w") as f:
                f.write("x" * 100)
            os.unlink(p)
        with open(state_file, "a") as f:
            f.write(f"{i}\n")
        pending.append((now + CHECK_AFTER, "files", now))
        for _ in range(20):
            subprocess.Popen(["true"]).wait()
        for _ in range(5):
            c = socket.create_connection(("127.0.0.1", quiet_port), timeout=5)
            try:
                a, _ = quiet.accept()
                a.close()
            except BlockingIOError:
                pass
            c.close()
        if i % 6 == 0 and agent is None:
            agent = subprocess.Popen([spin, "--busy"])
            agent_until = now + 2.5
            pending.append((now + 2.5 + CHECK_AFTER, "processes", now + 1.0))
        if agent is not None and now >= agent_until:
            agent.kill()
            agent.wait()
            agent = None
        # after the connection's settle time (6 ticks, monitor-sockets.c)
        if i % 6 == 2 and i >= 8:
            watched.sendall(b"y" * 4096)
            pending.append((now + CHECK_AFTER, "sockets", now))

        # --- sample ---
        rss, fds = proc_rss_fds(mon)
        targets = fd_targets(mon)
        if (prev_targets is not None and targets != prev_targets and len(fd_changes) < 10 and
                "SOAK_FD_DEBUG" in os.environ):
            fd_changes.append((i, sorted(set(targets.items()) - set(prev_targets.items())),
                               sorted(set(prev_targets.items()) - set(targets.items()))))
        prev_targets = targets
        # The processes signal keeps /proc/PID/stat open for each process it
        # follows (an agent and its descendants), and a running child is
        # read through a pipe: those come and go with them. The rest is the
        # base, which must not change; a stat fd of a process gone for
        # longer than the next scan is a leak.
        # A tick opens files for an instant (a directory scan, a netlink
        # socket, a path resolved), and on a loaded machine the monitor may
        # be preempted holding one: the base counts only the fds open, to
        # the same file, in this sample and in the one a second before.
        cur_set = {(fd, t) for fd, t in targets.items()
                   if not (t.startswith("pipe:") or
                           (t.startswith("/proc/") and t.endswith("/stat")))}
        persistent = cur_set if prev_set is None else cur_set & prev_set
        if prev_persistent is not None and persistent != prev_persistent and len(base_changes) < 5:
            base_changes.append((i, sorted(persistent - prev_persistent),
                                 sorted(prev_persistent - persistent)))
        prev_set, prev_persistent = cur_set, persistent
        base = len(persistent)
        for fd, t in targets.items():
            parts = t.split("/")
            if t.startswith("/proc/") and len(parts) == 4 and parts[3] == "stat":
                if not os.path.exists(f"/proc/{parts[2]}"):
                    stale_runs[(fd, t)] = stale_runs.get((fd, t), 0) + 1
                    stale_max = max(stale_max, stale_runs[(fd, t)])
        kids = descendants(mon)
        krss = kfds = zombies = 0
        for c in kids:
            r, f = proc_rss_fds(c)
            krss, kfds = krss + r, kfds + f
            if proc_state(c) == "Z":
                zombies += 1
                zombie_runs[c] = zombie_runs.get(c, 0) + 1
                zombie_max = max(zombie_max, zombie_runs[c])
        st = read_status(status_path) or {}
        state = st.get("state", "?")
        if state != "active":
            false_idle.append((i, state))
        b = st.get("backup") or {}
        if b.get("last_at") and b.get("last_at") != last_backup:
            last_backup = b.get("last_at")
            if b.get("last_ok"):
                backups_ok += 1
                generations.add(b.get("generation"))
            else:
                backup_failures += 1
        sig = st.get("signals") or {}
        keep = []
        for (at, name, when) in pending:
            if at > now:
                keep.append((at, name, when))
                continue
            checked += 1
            la = (sig.get(name) or {}).get("last_active")
            if not isinstance(la, (int, float)) or la < int(when) - 1:
                missed.append((i, name, when, la))
        pending = keep
        csv.write(f"{i},{state},{rss},{fds},{len(kids)},{krss},{kfds},{zombies},"
                  f"{backups_ok},{backup_failures},{b.get('generation') or ''},{len(missed)},{base}\n")
        csv.flush()
        if rss == 0:
            print(f"monitor gone at second {i}", file=sys.stderr)
            break

    if agent is not None:
        agent.kill()
        agent.wait()
    watched.close()
    quiet.close()

    # --- quiet: the box must still go idle ---
    idle_after = None
    t0 = time.time()
    while time.time() - t0 < timeout + 8:
        st = read_status(status_path) or {}
        if st.get("state") == "idle":
            idle_after = time.time() - t0
            for name, v in (st.get("signals") or {}).items():
                if isinstance(v.get("last_active"), (int, float)):
                    print(f"# after the churn: {name} last active "
                          f"{v['last_active'] - t0:+.0f} s ({v.get('detail')})")
            break
        time.sleep(0.2)
    csv.close()

    print(f"SECONDS={i + 1}")
    print(f"CHECKED={checked}")
    print(f"MISSED={len(missed)}")
    for m in missed[:5]:
        print(f"# missed: second {m[0]} {m[1]} event at {m[2]:.1f}, last_active {m[3]}")
    print(f"FALSE_IDLE={len(false_idle)}")
    for f in false_idle[:5]:
        print(f"# not active: second {f[0]} state {f[1]}")
    print(f"BACKUPS_OK={backups_ok}")
    print(f"BACKUP_FAILURES={backup_failures}")
    print(f"GENERATIONS={len(generations)}")
    print(f"ZOMBIE_MAX_SECONDS={zombie_max}")
    print(f"STALE_FD_MAX_SECONDS={stale_max}")
    for c in base_changes:
        print(f"# base fds at second {c[0]}: opened {c[1]}, closed {c[2]}")
    for c in fd_changes:
        print(f"# fds at second {c[0]}: opened {c[1]}, closed {c[2]}")
    print(f"IDLE_AFTER={-1 if idle_after is None else round(idle_after, 1)}")


if __name__ == "__main__":
    main()
