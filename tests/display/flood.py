#!/usr/bin/env python3
"""Opens N plain RFB and N WebSocket connections to agentbox-display that
never finish the RFB handshake (nothing is sent after the WebSocket
upgrade), prints "OPEN rfb=A ws=B" once all are made, then watches them
for up to SECONDS and prints "CLOSED n of m after s" whenever the server
has closed more of them, and at the end "END closed=n of m after s".
usage: flood.py RFB_PORT WEB_PORT N SECONDS"""
import base64
import os
import select
import socket
import sys
import time

rfb_port, web_port, n, seconds = (int(a) for a in sys.argv[1:5])
conns = []
ws_ok = 0
for _ in range(n):
    try:
        conns.append(socket.create_connection(("127.0.0.1", rfb_port), timeout=5))
    except OSError:
        pass
for _ in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", web_port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /websockify HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: binary\r\n\r\n" % (web_port, key)).encode())
        conns.append(s)
        ws_ok += 1
    except OSError:
        pass
print("OPEN rfb=%d ws=%d" % (len(conns) - ws_ok, ws_ok), flush=True)

start = time.monotonic()
closed = set()
last = -1
while time.monotonic() - start < seconds and len(closed) < len(conns):
    live = [s for s in conns if s not in closed]
    r, _, _ = select.select(live, [], [], 0.5)
    for s in r:
        try:
            # what the server sends (greeting, 101 answer) is read and
            # dropped; only the end of the stream counts
            if not s.recv(65536):
                closed.add(s)
        except OSError:
            closed.add(s)
    if len(closed) != last:
        last = len(closed)
        print("CLOSED %d of %d after %.1f" % (last, len(conns), time.monotonic() - start),
              flush=True)
print("END closed=%d of %d after %.1f" % (len(closed), len(conns), time.monotonic() - start),
      flush=True)
