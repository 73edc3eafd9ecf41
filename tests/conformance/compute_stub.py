"""A stand-in for Nova's server listing, for the conformance harness.

The harness runs the real Keystone and Glance but no Nova. cloudcensus also lists servers
(`{compute endpoint}/servers/detail`) and fails a tenant's sync when the catalog has no
`compute` endpoint, so stack.sh registers this stub, which lists no servers. Every request
must carry an X-Auth-Token (it is not validated: Keystone has already checked the
credentials by the time a sync gets here).

    compute_stub.py PORT
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("", "/v2.1"):
            self._send(200, {"version": {"id": "v2.1", "status": "CURRENT"}})
        elif not self.headers.get("X-Auth-Token"):
            self._send(401, {"error": {"code": 401, "message": "Authentication required"}})
        elif path.endswith("/servers/detail") or path.endswith("/servers"):
            self._send(200, {"servers": []})
        else:
            self._send(404, {"itemNotFound": {"code": 404, "message": "Not found"}})

    def log_message(self, fmt, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
