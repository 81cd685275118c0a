#!/usr/bin/env python3
"""Opens a WebSocket to 127.0.0.1:PORT PATH, sends nothing, and prints all
the server sends (headers and frames, as text) until it closes, or for at
most SECONDS (default 20). $COOKIE, if set, goes along as the Cookie header.
usage: ws-open.py PORT PATH [SECONDS]"""
import base64, os, socket, sys, time

port, path = int(sys.argv[1]), sys.argv[2]
end = time.monotonic() + float(sys.argv[3] if len(sys.argv) > 3 else 20)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
           % (path, port, base64.b64encode(os.urandom(16)).decode(),
              "Cookie: %s\r\n" % os.environ["COOKIE"] if os.environ.get("COOKIE") else "")).encode())
data = b""
while time.monotonic() < end:
    s.settimeout(max(0.1, end - time.monotonic()))
    try:
        d = s.recv(4096)
    except (socket.timeout, OSError):
        break
    if not d:
        break
    data += d
sys.stdout.write(data.decode(errors="replace"))
