#!/usr/bin/env python3
"""A webhook receiver for the notification tests: listens on 127.0.0.1:PORT
and appends every request as one JSON line (method, path, content type,
body) to OUT. It answers with the HTTP status in STATUS_FILE (200 when the
file is absent). Bounded: it ends by itself after 300 s."""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, out, status_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace")
        with lock, open(out, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "type": self.headers.get("Content-Type", ""),
                                "body": body, "time": time.time()}) + "\n")
        status = 200
        if os.path.exists(status_file):
            status = int(open(status_file).read().strip() or 200)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, daemon=True).start()
open(out, "a").close()
print("ready", flush=True)
time.sleep(300)
