#!/usr/bin/env python3
"""Opens and closes N WebSocket connections to agentbox-display, each
reading the RFB greeting through the bridge; half close cleanly (close
frame), half drop the TCP connection. Also sends a ping and expects the
pong. Prints "OK n" or "ERR reason".   usage: ws-cycle.py PORT N
$WS_HOST: the address (127.0.0.1); $WS_TLS=1: wss, certificate unchecked;
$WS_SESSION: the web front's session cookie value, sent as agentbox_session."""
import base64
import os
import socket
import ssl
import struct
import sys

HOST = os.environ.get("WS_HOST", "127.0.0.1")
COOKIE = ("Cookie: agentbox_session=%s\r\n" % os.environ["WS_SESSION"]
          if os.environ.get("WS_SESSION") else "")


def frame(opcode, payload):
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + data


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data


def read_frame(s):
    h = recv_exact(s, 2)
    if len(h) < 2:
        raise EOFError("closed")
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    return h[0] & 0x0F, recv_exact(s, n)


def one(port, i):
    s = socket.create_connection((HOST, port), timeout=10)
    if os.environ.get("WS_TLS") == "1":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /websockify HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: binary\r\n%s\r\n"
               % (HOST, port, key, COOKIE)).encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(1)
        if not chunk:
            raise EOFError("no handshake answer")
        resp += chunk
    if not resp.startswith(b"HTTP/1.1 101"):
        raise ValueError(resp.split(b"\r\n")[0].decode())
    if i % 10 == 0:
        s.sendall(frame(0x9, b"ping%d" % i))
    got = b""
    while not got.startswith(b"RFB 003.008\n"):
        op, payload = read_frame(s)
        if op == 0x2:
            got += payload
        elif op == 0xA and payload != b"ping%d" % i:
            raise ValueError("bad pong")
    if i % 2 == 0:
        s.sendall(frame(0x8, b"\x03\xe8"))
        while True:
            op, _ = read_frame(s)
            if op == 0x8:
                break
    s.close()


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        try:
            one(port, i)
        except Exception as e:  # noqa: BLE001 - any failure ends the test
            print("ERR cycle %d: %s" % (i, e))
            return 1
    print("OK %d" % n)
    return 0


sys.exit(main())
