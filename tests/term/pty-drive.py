#!/usr/bin/env python3
"""Runs a command in a pty of a given size and drives it from a script on
stdin, one step a line (every wait bounded; exit status 1 on a timeout):
  send TEXT        types TEXT (\\r, \\x02 and the like are unescaped)
  expect REGEX [S] waits up to S seconds (default 15) for REGEX in the
                   output since the last expect; prints "OK REGEX"
  resize ROWS COLS sets the pty's size and sends SIGWINCH to the command
  sleep S
  kill SIG         sends SIG (HUP, TERM, ...) to the command
  wait [S]         waits for the command to end; prints "EXIT n"
  latency N REGEX  N times: types a marker character and waits for it to
                   come back; prints "LATENCY p50_ms p95_ms"
  throughput CMD REGEX MB  types CMD\\r and reads until REGEX shows;
                   prints "THROUGHPUT MB/s" for MB megabytes in that time
usage: pty-drive.py ROWS COLS -- COMMAND..."""
import fcntl, os, re, select, signal, struct, sys, termios, time

rows, cols = int(sys.argv[1]), int(sys.argv[2])
cmd = sys.argv[sys.argv.index("--") + 1:]
pid, master = os.forkpty()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.execvp(cmd[0], cmd)
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
buf = b""
log = open(os.environ.get("PTY_LOG", "/dev/null"), "ab")


def read_some(timeout):
    global buf
    r, _, _ = select.select([master], [], [], timeout)
    if not r:
        return 0
    try:
        d = os.read(master, 1 << 16)
    except OSError:
        d = b""
    if not d:
        raise EOFError
    log.write(d)
    buf += d
    return len(d)


def expect(pat, secs):
    global buf
    end = time.monotonic() + secs
    rx = re.compile(pat.encode())
    while True:
        m = rx.search(buf)
        if m:
            buf = buf[m.end():]
            return True
        left = end - time.monotonic()
        if left <= 0:
            return False
        try:
            read_some(left)
        except EOFError:
            return bool(rx.search(buf))


def unescape(s):
    return s.encode().decode("unicode_escape").encode("latin-1")


for line in sys.stdin:
    w = line.rstrip("\n").split(" ", 1)
    op, arg = w[0], (w[1] if len(w) > 1 else "")
    if op == "send":
        os.write(master, unescape(arg))
    elif op == "expect":
        parts = arg.rsplit(" ", 1)
        secs = 15.0
        if len(parts) == 2 and re.fullmatch(r"[0-9.]+", parts[1]):
            arg, secs = parts[0], float(parts[1])
        if not expect(arg, secs):
            print("TIMEOUT expecting", arg, "got", repr(buf[-300:]))
            sys.exit(1)
        print("OK", arg, flush=True)
    elif op == "resize":
        r, c = map(int, arg.split())
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
        os.kill(pid, signal.SIGWINCH)
    elif op == "kill":
        os.kill(pid, getattr(signal, "SIG" + arg))
    elif op == "sleep":
        time.sleep(float(arg))
    elif op == "wait":
        end = time.monotonic() + float(arg or 15)
        while time.monotonic() < end:
            p, st = os.waitpid(pid, os.WNOHANG)
            if p:
                print("EXIT", os.waitstatus_to_exitcode(st), flush=True)
                break
            try:
                read_some(0.1)
            except EOFError:
                pass
        else:
            print("TIMEOUT waiting for the command to end")
            sys.exit(1)
    elif op == "latency":
        n = int(arg)
        lat = []
        for i in range(n):
            ch = "abcdefghijklmnopqrstuvwxyz"[i % 26]
            buf = b""
            t0 = time.monotonic()
            os.write(master, ch.encode())
            if not expect(re.escape(ch), 5):
                print("TIMEOUT in latency at", i)
                sys.exit(1)
            lat.append((time.monotonic() - t0) * 1000)
            time.sleep(0.02)
            if i % 40 == 39:  # ^U: the line never wraps (as in the page)
                os.write(master, b"\x15")
                time.sleep(0.2)
                try:
                    while read_some(0):
                        pass
                except EOFError:
                    pass
        os.write(master, b"\x15")  # ^U: the line typed is dropped
        lat.sort()
        print("LATENCY %.2f %.2f" % (lat[len(lat) // 2], lat[int(len(lat) * 0.95)]), flush=True)
    elif op == "throughput":
        c, pat, mb = arg.rsplit(" ", 2)
        buf = b""
        t0 = time.monotonic()
        os.write(master, unescape(c) + b"\r")
        rx = re.compile(pat.encode())
        end = t0 + 300
        while not rx.search(buf[-65536:]) and time.monotonic() < end:
            try:
                read_some(1)
            except EOFError:
                break
            if len(buf) > 1 << 20:
                buf = buf[-65536:]
        dt = time.monotonic() - t0
        if not rx.search(buf[-65536:]):
            print("TIMEOUT in throughput")
            sys.exit(1)
        print("THROUGHPUT %.1f MB/s %.2f s" % (float(mb) / dt, dt), flush=True)
    else:
        print("bad step", line)
        sys.exit(2)
try:
    if os.waitpid(pid, os.WNOHANG)[0] == 0:
        os.kill(pid, signal.SIGTERM)
except ChildProcessError:
    pass  # "wait" reaped it
