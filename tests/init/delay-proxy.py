#!/usr/bin/env python3
"""A reverse HTTP proxy on 127.0.0.1 that holds requests whose
"METHOD path" contains MATCH for DELAY seconds before forwarding them to UPSTREAM, and
logs "start|end <unix time> <method> <path>" for each held one.

    delay-proxy.py PORT UPSTREAM_PORT MATCH DELAY

Used by tests/regress/init-*.sh to give an image pull a known duration."""
import http.client
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM, MATCH, DELAY = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        held = MATCH in "%s %s" % (self.command, self.path)
        if held:
            print("start %.3f %s %s" % (time.time(), self.command, self.path), flush=True)
            time.sleep(DELAY)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        c = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if self.command != "HEAD" or r.getheader("Content-Length") is None:
            self.send_header("Content-Length", str(len(data)))
        else:
            self.send_header("Content-Length", r.getheader("Content-Length"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()
        if held:
            print("end %.3f %s %s" % (time.time(), self.command, self.path), flush=True)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward


server = ThreadingHTTPServer(("127.0.0.1", PORT), Proxy)
print("ready", flush=True)
server.serve_forever()
