#!/usr/bin/env python3
"""Holds a pty for the sessions tests: runs `cat >/dev/null` on it as its
controlling terminal (a program waiting for input), writes the slave's
path to argv[1], and on SIGUSR1 types a line into it (input the program
reads). Ends on SIGTERM, or by itself after argv[2] seconds."""
import os, signal, sys, time, select

out, seconds = sys.argv[1], float(sys.argv[2])
master, slave = os.openpty()
name = os.ttyname(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    import fcntl, termios
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execvp("sh", ["sh", "-c", "exec cat >/dev/null"])
os.close(slave)
typed = []
signal.signal(signal.SIGUSR1, lambda *_: typed.append(1))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(out + ".tmp", "w") as f:
    f.write(name + "\n")
os.rename(out + ".tmp", out)
end = time.monotonic() + seconds
try:
    while time.monotonic() < end:
        if typed:
            typed.clear()
            os.write(master, b"typed\n")
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            os.read(master, 4096)  # the echo
finally:
    os.kill(pid, signal.SIGKILL)
