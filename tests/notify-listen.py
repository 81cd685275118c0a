#!/usr/bin/env python3
"""Listens on a unix datagram socket like systemd's NOTIFY_SOCKET and
appends each message to a file, one line per datagram field, until killed
or --seconds pass (bounded)."""
import socket, sys, time, os

path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
end = time.monotonic() + seconds
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        for line in data.decode(errors="replace").split("\n"):
            if line:
                f.write(line + "\n")
