"""Creates what the conformance stack needs in a freshly bootstrapped Keystone.

Run by stack.sh with the harness venv's python (standard library only):

    bootstrap.py KEYSTONE_URL ADMIN_PASSWORD GLANCE_URL GLANCE_PASSWORD [COMPUTE_URL]

Creates (idempotently): the `service` role and project, the `glance` service user (roles
`service` and `admin` on project `service`, `reader` on system `all` for oslo.limit), the
`image` service with public/internal/admin endpoints in RegionOne, optionally a `compute`
service pointing at COMPUTE_URL, and generous registered limits for Glance's quotas.
Prints `IMAGE_ENDPOINT_ID=<id>` on stdout.
"""

import json
import sys
import urllib.error
import urllib.request

REGION = "RegionOne"
INTERFACES = ("public", "internal", "admin")
MIB = 1
# Generous enough that a test creating thousands of images is never refused.
REGISTERED_LIMITS = {
    "image_size_total": 100000 * MIB,
    "image_stage_total": 100000 * MIB,
    "image_count_total": 100000,
    "image_count_uploading": 100000,
}


class Keystone:
    def __init__(self, url, admin_password):
        self.url = url.rstrip("/")
        self.token = None
        self.token = self.login(admin_password)

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("X-Auth-Token", self.token)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                status, headers = resp.status, resp.headers
        except urllib.error.HTTPError as e:
            raw, status, headers = e.read(), e.code, e.headers
        if status not in ok:
            raise SystemExit(
                f"bootstrap: {method} {path} -> HTTP {status}: {raw[:500].decode(errors='replace')}"
            )
        return status, headers, (json.loads(raw) if raw else None)

    def login(self, password, user="admin", project="admin"):
        _, headers, _ = self.call(
            "POST",
            "/v3/auth/tokens",
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": user,
                                "domain": {"id": "default"},
                                "password": password,
                            }
                        },
                    },
                    "scope": {"project": {"name": project, "domain": {"id": "default"}}},
                }
            },
        )
        return headers["X-Subject-Token"]

    def find(self, collection, key, **query):
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        _, _, body = self.call("GET", f"/v3/{collection}?{qs}")
        return body[key]

    def ensure(self, collection, singular, match, body):
        found = self.find(collection, collection, **match)
        if found:
            return found[0]["id"]
        _, _, created = self.call("POST", f"/v3/{collection}", {singular: body})
        return created[singular]["id"]


def main():
    if len(sys.argv) not in (5, 6):
        raise SystemExit(__doc__)
    keystone_url, admin_password, glance_url, glance_password = sys.argv[1:5]
    compute_url = sys.argv[5] if len(sys.argv) == 6 else ""
    ks = Keystone(keystone_url, admin_password)

    role = {name: ks.ensure("roles", "role", {"name": name}, {"name": name})
            for name in ("service", "admin", "member", "reader")}
    service_project = ks.ensure(
        "projects", "project", {"name": "service"},
        {"name": "service", "domain_id": "default", "description": "Service users"})
    glance_user = ks.ensure(
        "users", "user", {"name": "glance"},
        {"name": "glance", "domain_id": "default", "password": glance_password,
         "default_project_id": service_project})
    for name in ("service", "admin"):
        ks.call("PUT", f"/v3/projects/{service_project}/users/{glance_user}/roles/{role[name]}")
    # oslo.limit reads the limits with a system-scoped token.
    ks.call("PUT", f"/v3/system/users/{glance_user}/roles/{role['reader']}")
    # Keystone writes a user's `last_active_at` on the first password login of each (UTC) day,
    # in a deferred SQLite transaction: concurrent first logins fail with "database is locked"
    # (HTTP 500). Glance's workers log in as `glance` at once on their first requests, so log in
    # once here, alone, before Glance starts.
    ks.login(glance_password, user="glance", project="service")

    def service_with_endpoints(stype, name, url):
        sid = ks.ensure("services", "service", {"type": stype},
                        {"type": stype, "name": name, "enabled": True})
        ids = {}
        existing = ks.find("endpoints", "endpoints", service_id=sid)
        for iface in INTERFACES:
            match = [e for e in existing if e["interface"] == iface]
            if match:
                ids[iface] = match[0]["id"]
                if match[0]["url"] != url:
                    ks.call("PATCH", f"/v3/endpoints/{match[0]['id']}", {"endpoint": {"url": url}})
                continue
            _, _, created = ks.call("POST", "/v3/endpoints", {"endpoint": {
                "service_id": sid, "interface": iface, "url": url,
                "region_id": REGION, "enabled": True}})
            ids[iface] = created["endpoint"]["id"]
        return sid, ids

    image_service, image_endpoints = service_with_endpoints("image", "glance", glance_url)
    if compute_url:
        service_with_endpoints("compute", "nova", compute_url)

    existing = {l["resource_name"] for l in
                ks.find("registered_limits", "registered_limits", service_id=image_service)}
    todo = [{"service_id": image_service, "region_id": REGION, "resource_name": name,
             "default_limit": value}
            for name, value in REGISTERED_LIMITS.items() if name not in existing]
    if todo:
        ks.call("POST", "/v3/registered_limits", {"registered_limits": todo})

    print(f"IMAGE_ENDPOINT_ID={image_endpoints['public']}")


if __name__ == "__main__":
    main()
