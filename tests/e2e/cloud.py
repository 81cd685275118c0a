#!/usr/bin/env python3
"""The fake Hetzner cloud of the end-to-end test, run inside the cloud
network namespace the test made (never elsewhere):

  metadata  169.254.169.254:80   /hetzner/v1/metadata[/instance-id]; which
                                 server asks is told by its source address
  API       API_ADDR:API_PORT    /v1, Bearer TOKEN: DELETE /v1/servers/{id}
                                 and GET /v1/actions/{id}

  cloud.py STATE_DIR API_ADDR API_PORT

STATE_DIR/servers.json, read on every request, is written by the test:
  {"169.254.81.2": {"id": "1001", "container": "e2e-vm1-123", "name": "ws-1"}}
STATE_DIR/token holds the API token. Every request is appended to
STATE_DIR/calls.jsonl (method, path, server, client, time, status).

A DELETE of a known server answers like Hetzner (an action, "running"),
then, like the real cloud, really ends that server: its journal is
exported first (STATE_DIR/<container>.journal.json, journalctl -o json, and
.journal.txt), then the container is stopped and removed through the test's
dockerd (DOCKER_HOST, a unix socket). STATE_DIR/<container>.deleted marks
the end of that. Ends by itself after LIFETIME seconds (default 3600)."""
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE, API_ADDR, API_PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
LOG = os.path.join(STATE, "calls.jsonl")
lock = threading.Lock()
actions = {}


def servers():
    try:
        with open(os.path.join(STATE, "servers.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def record(h, status, extra=None):
    entry = {"server": h.server.name, "method": h.command, "path": h.path,
             "client": h.client_address[0], "status": status, "time": time.time()}
    if extra:
        entry.update(extra)
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def docker(*args, timeout=60):
    return subprocess.run(["docker", *args], capture_output=True, timeout=timeout)


def end_server(container):
    """What the real cloud does after accepting a delete: the server is gone
    a moment later. The journal is kept first, as the test's evidence."""
    time.sleep(1)  # the monitor logs the accepted delete meanwhile
    base = os.path.join(STATE, container)
    try:
        for fmt, ext in (("json", "json"), ("short-precise", "txt")):
            r = docker("exec", container, "journalctl", "--no-pager", "-o", fmt)
            with open("%s.journal.%s" % (base, ext), "wb") as f:
                f.write(r.stdout)
        docker("stop", "-t", "10", container)
        r = docker("rm", "-f", container)
        note = "removed" if r.returncode == 0 else "rm failed: " + r.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        note = "timed out: %s" % e
        docker("rm", "-f", container)
    with open(base + ".deleted", "w") as f:
        f.write("%s %s\n" % (time.time(), note))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json", extra=None):
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        record(self, status, extra)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.server.name == "metadata":
            return self.metadata()
        return self.api()

    do_GET = do_PUT = do_POST = do_DELETE = handle_any

    def metadata(self):
        srv = servers().get(self.client_address[0])
        if not srv:
            return self.reply(404, "not found", "text/plain")
        if self.path == "/hetzner/v1/metadata/instance-id":
            return self.reply(200, srv["id"], "text/plain")
        if self.path == "/hetzner/v1/metadata":
            return self.reply(200, "availability-zone: fsn1-dc14\nhostname: %s\n"
                              "instance-id: %s\nlocal-ipv4: ''\npublic-ipv4: %s\n"
                              "region: eu-central\npublic-keys: []\n"
                              % (srv["name"], srv["id"], self.client_address[0]), "text/plain")
        return self.reply(404, "not found", "text/plain")

    def api(self):
        with open(os.path.join(STATE, "token")) as f:
            token = f.read().strip()
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.reply(401, {"error": {"code": "unauthorized",
                                              "message": "unable to authenticate"}})
        m = re.fullmatch(r"/v1/servers/(\d+)", self.path)
        if self.command == "DELETE" and m:
            known = {s["id"]: s for s in servers().values()}
            srv = known.get(m.group(1))
            if not srv or os.path.exists(os.path.join(STATE, srv["container"] + ".deleted")):
                return self.reply(404, {"error": {"code": "not_found",
                                                  "message": "server not found"}})
            with lock:
                aid = 1000 + len(actions)
                actions[aid] = srv["container"]
            self.reply(200, {"action": {"id": aid, "command": "delete_server",
                                        "status": "running", "progress": 0, "error": None}},
                       extra={"deleted": srv["container"]})
            threading.Thread(target=end_server, args=(srv["container"],), daemon=True).start()
            return None
        m = re.fullmatch(r"/v1/actions/(\d+)", self.path)
        if self.command == "GET" and m and int(m.group(1)) in actions:
            return self.reply(200, {"action": {"id": int(m.group(1)), "status": "running",
                                               "command": "delete_server", "error": None}})
        return self.reply(404, {"error": {"code": "not_found", "message": "?"}})


def serve(addr, port, name):
    srv = ThreadingHTTPServer((addr, port), Handler)
    srv.daemon_threads = True
    srv.name = name
    threading.Thread(target=srv.serve_forever, daemon=True).start()


serve("169.254.169.254", 80, "metadata")
serve(API_ADDR, API_PORT, "api")
open(LOG, "a").close()
print("ready", flush=True)
time.sleep(int(os.environ.get("LIFETIME", "3600")))
