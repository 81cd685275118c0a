#!/usr/bin/env python3
"""Fake cloud for the provider tests: Hetzner's, DigitalOcean's and EC2's
metadata service on 169.254.169.254:80, Scaleway's on 169.254.42.42:80, the
Hetzner, Scaleway, DigitalOcean and EC2 APIs on 127.0.0.1:8080, all inside
the network namespace the test created.

Behaviour comes from a JSON scenario file, read again for every request so
a test can change it between runs:
  metadata      "hetzner" | "ec2" | "scaleway" | "digitalocean" | "none" (404) |
                "timeout" | "empty" | "malformed"
  id_changes    true: the instance id grows by one on every read
  hetzner_id    "4242"; ec2_id "i-0123456789abcdef0"; region
  scw_id        Scaleway server UUID; scw_zone "fr-par-1"; do_id 3164444
  spot_action   {"action": "terminate", "time": ...}: EC2 spot instance-action
                (absent: 404); rebalance: {"noticeTime": ...} likewise
  token         the Hetzner, Scaleway and DigitalOcean token the APIs accept
  api_status    forces this HTTP status from the delete call (401, 404, 500...)
  metadata_delay, delete_delay   seconds each metadata answer, each Hetzner
                DELETE waits first (the DELETE is logged before it waits)
  api_garbage   true: a Hetzner DELETE is answered 200 with bytes that are
                not JSON
  action_status "running" | "error"
  ec2_role      role name, or null for no instance profile
  shutdown      "terminate" | "stop" (DescribeInstanceAttribute)
  ec2_secret    the secret key handed to the instance (the API checks
                signatures with "fake-secret-key")
Every request is appended to the log file as one JSON line with its
method, path, headers and body."""
import hashlib
import hmac
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIO, LOG = sys.argv[1], sys.argv[2]
SCW_ID = "0f6b3c2e-9c5a-4b9e-8f2a-1d2e3f4a5b6c"
lock = threading.Lock()
reads = {"n": 0}


def scenario():
    with open(SCENARIO) as f:
        return json.load(f)


def sigv4_ok(h, body, secret="fake-secret-key"):
    """Recomputes the request's SigV4 signature (AWS's algorithm) over the
    headers it says it signed; True when it matches."""
    m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9]+)/"
                     r"aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
                     h.headers.get("Authorization", ""))
    if not m:
        return False
    _, date, region, service, signed, sig = m.groups()
    names = signed.split(";")
    canon_headers = "".join("%s:%s\n" % (n, " ".join((h.headers.get(n) or "").split()))
                            for n in names)
    path, _, query = h.path.partition("?")
    canon_query = "&".join(sorted(query.split("&"))) if query else ""
    creq = "\n".join([h.command, path, canon_query, canon_headers, signed,
                      hashlib.sha256(body.encode()).hexdigest()])
    amz_date = h.headers.get("x-amz-date", "")
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date,
                     "%s/%s/%s/aws4_request" % (date, region, service),
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(), sig)


def record(h, body):
    entry = {
        "server": h.server.name,
        "method": h.command,
        "path": h.path,
        "headers": {k.lower(): v for k, v in h.headers.items()},
        "body": body,
        "time": time.time(),
    }
    if h.server.name == "api" and h.path.startswith("/ec2"):
        entry["sigv4_ok"] = sigv4_ok(h, body)
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace") if n else ""
        record(self, body)
        sc = scenario()
        if self.server.name.endswith("metadata"):
            return self.metadata(sc)
        if self.path.startswith("/ec2"):
            return self.ec2_api(sc, body)
        if self.path.startswith("/instance/"):
            return self.scaleway_api(sc, body)
        if self.path.startswith("/v2/"):
            return self.do_api(sc)
        return self.hetzner_api(sc)

    do_GET = do_PUT = do_POST = do_DELETE = handle_any

    # --- metadata ---
    def instance_id(self, sc, base):
        if not sc.get("id_changes"):
            return base
        with lock:
            reads["n"] += 1
            k = reads["n"]
        if base.startswith("i-"):
            return "i-%017x" % (int(base[2:], 16) + k)
        if "-" in base:  # a Scaleway UUID: change its last group
            return base[:24] + "%012x" % (int(base[24:], 16) + k)
        return str(int(base) + k)

    def metadata(self, sc):
        mode = sc.get("metadata", "hetzner")
        time.sleep(min(float(sc.get("metadata_delay", 0)), 30))
        if mode == "timeout":
            time.sleep(5)
            return self.reply(200, "late")
        if mode == "none":
            return self.reply(404, "not found")
        if mode == "empty":
            return self.reply(200, "")
        if mode == "malformed":
            return self.reply(200, "\x00\x01 this is not metadata: [\n")
        p = self.path
        if self.server.name == "scaleway-metadata":
            if mode != "scaleway" or p != "/conf?format=json":
                return self.reply(404, "not found")
            zone = sc.get("scw_zone", "fr-par-1")
            return self.reply(200, json.dumps({
                "id": self.instance_id(sc, sc.get("scw_id", SCW_ID)), "name": "ws-scw",
                "hostname": "ws-scw", "commercial_type": "DEV1-S", "organization": "o",
                "project": "p", "zone": zone, "location": {"zone_id": zone},
                "public_ip": {"address": "192.0.2.30", "dynamic": True}, "tags": []}),
                "application/json")
        if mode == "scaleway":
            return self.reply(404, "not found")  # nothing of Scaleway's at .254
        if mode == "digitalocean":
            did = str(sc.get("do_id", 3164444))
            if p == "/metadata/v1.json":
                return self.reply(200, json.dumps({
                    "droplet_id": int(self.instance_id(sc, did)), "hostname": "ws-do",
                    "region": "fra1", "interfaces": {"public": [{"ipv4": {
                        "ip_address": "192.0.2.40"}}]}}), "application/json")
            if p == "/metadata/v1/id":
                return self.reply(200, self.instance_id(sc, did))
            return self.reply(404, "not found")
        if mode == "hetzner":
            hid = sc.get("hetzner_id", "4242")
            if p == "/hetzner/v1/metadata":
                return self.reply(200, "availability-zone: fsn1-dc14\nhostname: ws-test\n"
                                  "instance-id: %s\nlocal-ipv4: ''\npublic-ipv4: 192.0.2.10\n"
                                  "region: eu-central\npublic-keys: []\nvendor_data: |\n"
                                  "  instance-id: 999\n" % self.instance_id(sc, hid))
            if p == "/hetzner/v1/metadata/instance-id":
                return self.reply(200, self.instance_id(sc, hid))
            return self.reply(404, "not found")
        # ec2, IMDSv2 only
        if p == "/latest/api/token" and self.command == "PUT":
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(400, "missing ttl")
            return self.reply(200, "imds-session-token")
        if self.headers.get("X-aws-ec2-metadata-token") != "imds-session-token":
            return self.reply(401, "unauthorized")
        eid, region = sc.get("ec2_id", "i-0123456789abcdef0"), sc.get("region", "eu-west-1")
        role = sc.get("ec2_role", "agentbox-role")
        if p == "/latest/meta-data/instance-id":
            return self.reply(200, self.instance_id(sc, eid))
        if p == "/latest/meta-data/placement/region":
            return self.reply(200, region)
        if p == "/latest/dynamic/instance-identity/document":
            return self.reply(200, json.dumps({"instanceId": self.instance_id(sc, eid),
                                               "region": region, "accountId": "123456789012",
                                               "availabilityZone": region + "a"}),
                              "application/json")
        if p == "/latest/meta-data/spot/instance-action" and sc.get("spot_action"):
            return self.reply(200, json.dumps(sc["spot_action"]), "application/json")
        if p == "/latest/meta-data/events/recommendations/rebalance" and sc.get("rebalance"):
            return self.reply(200, json.dumps(sc["rebalance"]), "application/json")
        if p == "/latest/meta-data/iam/security-credentials/" and role:
            return self.reply(200, role + "\n")
        if role and p == "/latest/meta-data/iam/security-credentials/" + role:
            return self.reply(200, json.dumps({"Code": "Success", "AccessKeyId": "ASIAFAKEKEYID",
                                               "SecretAccessKey": sc.get("ec2_secret", "fake-secret-key"),
                                               "Token": "fake-session-token",
                                               "Expiration": "2099-01-01T00:00:00Z"}))
        return self.reply(404, "not found")

    # --- Hetzner API on /v1 ---
    def hetzner_api(self, sc):
        if self.headers.get("Authorization") != "Bearer " + sc.get("token", "test-token"):
            return self.reply(401, json.dumps({"error": {"code": "unauthorized",
                                                         "message": "unable to authenticate"}}),
                              "application/json")
        forced = sc.get("api_status")
        m = re.fullmatch(r"/v1/servers/(\d+)", self.path)
        if self.command == "DELETE" and m:
            time.sleep(min(float(sc.get("delete_delay", 0)), 30))
            if sc.get("api_garbage"):
                return self.reply(200, "\x00<html>502 Bad Gateway</html>\n{\"action\": ",
                                  "application/json")
            if forced:
                codes = {403: "forbidden", 404: "not_found", 500: "server_error"}
                return self.reply(forced, json.dumps({"error": {
                    "code": codes.get(forced, "error"), "message": "forced by the test"}}),
                    "application/json")
            if m.group(1) != sc.get("hetzner_id", "4242"):
                return self.reply(404, json.dumps({"error": {"code": "not_found",
                                                             "message": "server not found"}}),
                                  "application/json")
            return self.reply(200, json.dumps({"action": {
                "id": 13, "command": "delete_server", "status": "running", "progress": 0,
                "error": None}}), "application/json")
        if self.command == "GET" and self.path == "/v1/actions/13":
            st = sc.get("action_status", "running")
            err = {"code": "action_failed", "message": "forced by the test"} if st == "error" \
                else None
            return self.reply(200, json.dumps({"action": {"id": 13, "status": st,
                                                          "command": "delete_server",
                                                          "error": err}}), "application/json")
        return self.reply(404, json.dumps({"error": {"code": "not_found", "message": "?"}}),
                          "application/json")

    # --- Scaleway Instance API on /instance/v1 ---
    def scaleway_api(self, sc, body):
        if self.headers.get("X-Auth-Token") != sc.get("token", "test-token"):
            return self.reply(401, json.dumps({"message": "authentication is denied",
                                               "type": "denied_authentication"}),
                              "application/json")
        m = re.fullmatch(r"/instance/v1/zones/([a-z0-9-]+)/servers/([0-9a-f-]+)/action",
                         self.path)
        forced = sc.get("api_status")
        if self.command == "POST" and m:
            if forced:
                return self.reply(forced, json.dumps({"message": "forced by the test",
                                                      "type": "forced"}), "application/json")
            if m.group(2) != sc.get("scw_id", SCW_ID) or \
                    m.group(1) != sc.get("scw_zone", "fr-par-1"):
                return self.reply(404, json.dumps({"message": "resource is not found",
                                                   "type": "not_found"}), "application/json")
            if json.loads(body or "{}").get("action") != "terminate":
                return self.reply(400, json.dumps({"message": "bad action",
                                                   "type": "invalid_arguments"}),
                                  "application/json")
            return self.reply(202, json.dumps({"task": {
                "id": "a1b2c3d4-0000-4000-8000-000000000001", "description": "server_terminate",
                "status": sc.get("task_status", "pending"),
                "href_from": "/servers/%s/action" % m.group(2)}}), "application/json")
        return self.reply(404, json.dumps({"message": "?", "type": "not_found"}),
                          "application/json")

    # --- DigitalOcean API on /v2 ---
    def do_api(self, sc):
        if self.headers.get("Authorization") != "Bearer " + sc.get("token", "test-token"):
            return self.reply(401, json.dumps({"id": "Unauthorized",
                                               "message": "Unable to authenticate you"}),
                              "application/json")
        m = re.fullmatch(r"/v2/droplets/(\d+)", self.path)
        forced = sc.get("api_status")
        if self.command == "DELETE" and m:
            if forced:
                return self.reply(forced, json.dumps({"id": "forced",
                                                      "message": "forced by the test"}),
                                  "application/json")
            if m.group(1) != str(sc.get("do_id", 3164444)):
                return self.reply(404, json.dumps({"id": "not_found", "message":
                                                   "The resource you were accessing could "
                                                   "not be found."}), "application/json")
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.reply(404, json.dumps({"id": "not_found", "message": "?"}),
                          "application/json")

    # --- EC2 Query API on /ec2/ ---
    def ec2_api(self, sc, body):
        auth = self.headers.get("Authorization", "")
        if not re.fullmatch(r"AWS4-HMAC-SHA256 Credential=ASIAFAKEKEYID/\d{8}/[a-z0-9-]+/ec2/"
                            r"aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}",
                            auth) or self.headers.get("x-amz-security-token") != \
                "fake-session-token" or not sigv4_ok(self, body):
            return self.reply(401, "<Response><Errors><Error><Code>AuthFailure</Code>"
                              "<Message>bad signature</Message></Error></Errors></Response>")
        forced = sc.get("api_status")
        q = dict(kv.split("=", 1) for kv in body.split("&") if "=" in kv)
        eid = sc.get("ec2_id", "i-0123456789abcdef0")
        if forced and q.get("Action") == "TerminateInstances":
            return self.reply(forced, "<Response><Errors><Error><Code>InternalError</Code>"
                              "<Message>forced by the test</Message></Error></Errors></Response>")
        if q.get("Action") == "DescribeInstanceAttribute":
            return self.reply(200, "<DescribeInstanceAttributeResponse><instanceId>%s</instanceId>"
                              "<instanceInitiatedShutdownBehavior><value>%s</value>"
                              "</instanceInitiatedShutdownBehavior>"
                              "</DescribeInstanceAttributeResponse>"
                              % (eid, sc.get("shutdown", "terminate")))
        if q.get("Action") == "TerminateInstances" and q.get("InstanceId.1") == eid:
            return self.reply(200, "<TerminateInstancesResponse><instancesSet><item>"
                              "<instanceId>%s</instanceId><currentState><code>32</code>"
                              "<name>shutting-down</name></currentState><previousState>"
                              "<code>16</code><name>running</name></previousState></item>"
                              "</instancesSet></TerminateInstancesResponse>" % eid)
        return self.reply(400, "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>"
                          "<Message>no such instance</Message></Error></Errors></Response>")


def serve(addr, port, name):
    srv = ThreadingHTTPServer((addr, port), Handler)
    srv.daemon_threads = True
    srv.name = name
    threading.Thread(target=srv.serve_forever, daemon=True).start()


serve("169.254.169.254", 80, "metadata")
if len(sys.argv) > 3 and sys.argv[3] == "scaleway":
    serve("169.254.42.42", 80, "scaleway-metadata")
serve("127.0.0.1", 8080, "api")
open(LOG, "a").close()
print("ready", flush=True)
# Bounded: the test kills us, and we end by ourselves after 10 minutes.
time.sleep(600)
