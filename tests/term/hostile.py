#!/usr/bin/env python3
"""Hostile clients of the terminal's WebSocket (/terminal/ws) for SECONDS:
an oversized frame, a frame with reserved bits (junk), a control message
that is not JSON, an unmasked frame, a foreign Origin, slowloris clients
that send an HTTP header or a frame header a byte a second, and reconnect
churn. Prints one line per probe: "OK name: what the server did" or
"BAD name: ..."; each probe is bounded.
usage: hostile.py WEB_PORT SECONDS"""
import base64, os, socket, struct, sys, time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
HOST = "127.0.0.1:%d" % port


def upgrade(origin=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /terminal/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n%s\r\n" %
               (HOST, key, "Origin: %s\r\n" % origin if origin else "")).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d:
            break
        head += d
    return s, head.split(b"\r\n")[0].decode(errors="replace")


def frame(opcode, payload, mask=True, length=None, rsv=0):
    n = len(payload) if length is None else length
    h = bytes([0x80 | rsv | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        h += bytes([m | n])
    elif n < 65536:
        h += bytes([m | 126]) + struct.pack(">H", n)
    else:
        h += bytes([m | 127]) + struct.pack(">Q", n)
    if mask:
        k = os.urandom(4)
        h += k
        payload = bytes(b ^ k[i & 3] for i, b in enumerate(payload))
    return h + payload


def close_code(s, secs=5):
    """Reads until the server's close frame or EOF: its code, or 'eof'."""
    s.settimeout(secs)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
            # find a close frame (0x88) among the server's frames
            i = 0
            while i + 2 <= len(data):
                op, n = data[i] & 0x0F, data[i + 1] & 0x7F
                j = i + 2
                if n == 126:
                    n = struct.unpack(">H", data[j:j + 2])[0] if j + 2 <= len(data) else 1 << 30
                    j += 2
                elif n == 127:
                    n = struct.unpack(">Q", data[j:j + 8])[0] if j + 8 <= len(data) else 1 << 30
                    j += 8
                if j + n > len(data):
                    break
                if op == 8:
                    return struct.unpack(">H", data[j:j + 2])[0] if n >= 2 else 1005
                i = j + n
    except socket.timeout:
        return "timeout"
    except OSError:
        pass
    return "eof"


def probe(name, want, fn):
    try:
        got = fn()
    except Exception as e:  # noqa: BLE001 - a probe reports, never crashes
        got = "exception %s" % e
    ok = got in want if isinstance(want, (list, tuple)) else got == want
    print("%s %s: %s" % ("OK" if ok else "BAD", name, got), flush=True)


def oversized():
    s, st = upgrade()
    s.sendall(frame(2, b"", length=1 << 40)[:14])
    return close_code(s)


def junk():
    s, st = upgrade()
    s.sendall(frame(2, b"abc", rsv=0x40) + os.urandom(64))
    return close_code(s)


def bad_control():
    s, st = upgrade()
    s.sendall(frame(1, b"{not json"))
    return close_code(s)


def unmasked():
    s, st = upgrade()
    s.sendall(frame(2, b"ls\r", mask=False))
    return close_code(s)


def foreign_origin():
    s, st = upgrade("http://evil.example")
    s.close()
    return st.split(" ", 1)[1] if " " in st else st


slow = []


def slowloris_start():
    for i in range(8):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        slow.append([s, b"GET /terminal HTTP/1.1\r\nHost: %s\r\nX-a: " % HOST.encode(), 0])
    for i in range(4):
        s, st = upgrade()
        slow.append([s, frame(2, b"x" * 200)[:-1], 0])  # never the last byte


probe("oversized frame closes with 1009", 1009, oversized)
probe("reserved bits close with 1002", 1002, junk)
probe("a control message that is not JSON closes with 1003", 1003, bad_control)
probe("an unmasked frame closes with 1002", 1002, unmasked)
probe("a foreign Origin is refused", "403 Forbidden", foreign_origin)
slowloris_start()
end = time.monotonic() + seconds
churn = 0
while time.monotonic() < end:
    for c in slow:
        s, data, i = c
        if i < len(data):
            try:
                s.send(data[i:i + 1])
            except OSError:
                pass
            c[2] += 1
    # churn: a terminal opened and dropped at once
    try:
        s, st = upgrade()
        s.close()
        churn += 1
    except OSError:
        pass
    time.sleep(1)
print("OK slowloris and churn: %d slow clients, %d terminals opened and dropped" %
      (len(slow), churn), flush=True)
for c in slow:
    c[0].close()
