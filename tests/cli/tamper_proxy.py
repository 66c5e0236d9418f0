#!/usr/bin/env python3
"""A hostile vault for the CLI tests: forwards every request to the real kluisd and, depending on the
mode file, alters one kind of answer the way a compromised server could. kluis must notice (exit 4).

usage: tamper_proxy.py UPSTREAM_PORT PORT_FILE MODE_FILE

Modes (first line of MODE_FILE; anything else forwards unchanged):
  charter     the charter text gains a byte (its hash no longer matches GET /v1/vault)
  checkpoint  the checkpoint's tree size changes (its signature no longer verifies)
  blob        the first entry's blob changes one byte (blob_hash no longer matches)
  swapwrap    the key wraps of the first two sections of a dossier are swapped (each opens, but
              neither matches its section's signed commitment)
  journal     the first journal event's raw bytes change (the chain no longer reaches the head)
  citizenkey  the dossier names another signing key for the citizen than the one pinned earlier
"""
import base64
import http.client
import http.server
import json
import sys

UP = int(sys.argv[1])
PORT_FILE = sys.argv[2]
MODE_FILE = sys.argv[3]


def mode():
    try:
        with open(MODE_FILE) as f:
            return f.readline().strip()
    except OSError:
        return ""


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def tamper(path, body, m):
    if m == "charter" and path == "/v1/charter":
        return body + b" "
    if m == "checkpoint" and path == "/v1/log/checkpoint":
        lines = body.split(b"\n")
        lines[1] = str(int(lines[1]) + 1).encode()
        return b"\n".join(lines)
    try:
        j = json.loads(body)
    except ValueError:
        return body
    if m == "blob" and "/entries" in path and j.get("entries"):
        blob = bytearray(b64d(j["entries"][0]["blob"]))
        blob[len(blob) // 2] ^= 1
        j["entries"][0]["blob"] = b64e(bytes(blob))
    elif m == "swapwrap" and path.endswith("/dossier") and len(j.get("sections", [])) >= 2:
        a, b = j["sections"][0]["epochs"][0], j["sections"][1]["epochs"][0]
        if "wrap" in a and "wrap" in b:
            a["wrap"], b["wrap"] = b["wrap"], a["wrap"]
    elif m == "citizenkey" and path.endswith("/dossier") and "sign_pk" in j:
        j["sign_pk"] = b64e(bytes(31) + b"\x01")
    elif m == "journal" and "/journal" in path and j.get("events"):
        raw = b64d(j["events"][0]["raw"]).replace(b'"allowed"', b'"denied:x"', 1)
        if raw == b64d(j["events"][0]["raw"]):
            raw = raw.replace(b'"time":', b'"time":1', 1)
        j["events"][0]["raw"] = b64e(raw)
    else:
        return body
    return json.dumps(j).encode()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type", "accept")}
        c = http.client.HTTPConnection("127.0.0.1", UP, timeout=30)
        c.request(self.command, self.path, body=data, headers=headers)
        r = c.getresponse()
        body = r.read()
        path = self.path.split("?")[0]
        if 200 <= r.status < 300:
            body = tamper(path, body, mode())
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        c.close()

    do_GET = do_POST = do_DELETE = forward


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402

os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
