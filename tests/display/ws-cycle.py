#!/usr/bin/env python3
"""Opens and closes N WebSocket connections to agentbox-display, each
reading the RFB greeting through the bridge; half close cleanly (close
frame), half drop the TCP connection. Also sends a ping and expects the
pong. Prints "OK n" or "ERR reason".   usage: ws-cycle.py PORT N"""
import base64
import os
import socket
import struct
import sys


def frame(opcode, payload):
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + data


def read_frame(s):
    h = s.recv(2, socket.MSG_WAITALL)
    if len(h) < 2:
        raise EOFError("closed")
    n = h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
    elif n == 127:
        n = struct.unpack(">Q", s.recv(8, socket.MSG_WAITALL))[0]
    return h[0] & 0x0F, s.recv(n, socket.MSG_WAITALL) if n else b""


def one(port, i):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /websockify HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: binary\r\n\r\n" % (port, key)).encode())
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
