"""python-glanceclient (and openstacksdk) against the census's Glance face.

Usage: check.py BASE STAFF_TOKEN

Each `glance` command's output must equal what the census itself answers over HTTP for the
same question: the face's own JSON for listings (all pages in one request), images and
discovery documents. Writes must fail with the census's read-only message. Any difference
fails the run (exit status 1).
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE, STAFF = sys.argv[1], sys.argv[2]
BIN = os.path.dirname(sys.executable)
failures = []


def http(url, token, headers=None, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=body)
    req.add_header("X-Auth-Token", token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def census_api(path, body=None, method=None):
    """The census's own (Waldur-face) API, as staff."""
    req = urllib.request.Request(BASE + path, data=body and json.dumps(body).encode(), method=method)
    req.add_header("Authorization", "Token " + STAFF)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def check(label, got, want):
    if got == want:
        print(f"ok   {label}")
    else:
        failures.append(label)
        print(f"FAIL {label}\n  glance: {got!r}\n  census: {want!r}")


def glance(endpoint, token, *args):
    """Runs the glance CLI; returns (exit status, stdout, stderr)."""
    cmd = [os.path.join(BIN, "glance"), "--os-image-url", endpoint, "--os-auth-token", token,
           "--os-image-api-version", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def table(text):
    """The rows of a prettytable, as lists of cell strings (header row first); a value
    wrapped onto lines of its own (first cell empty) is joined back, without its blanks."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if rows and len(cells) > 1 and not cells[0]:
                rows[-1] = [a + b for a, b in zip(rows[-1], cells)]
            else:
                rows.append(cells)
    return rows


def compact(value):
    """JSON as glanceclient prints it in a table cell, without blanks (wrapping drops them)."""
    return json.dumps(value, sort_keys=True).replace(" ", "")


def glance_rows(endpoint, token, *args):
    status, out, err = glance(endpoint, token, *args)
    if status != 0:
        failures.append(" ".join(args))
        print(f"FAIL glance {' '.join(args)} exited {status}: {err}")
        return []
    return table(out)[1:]


def census_images(endpoint, token, query):
    """Every image of the face's listing with `query`, in one request."""
    body = http(f"{endpoint}/v2/images?{query}&limit=1000", token)
    assert "next" not in body or len(body["images"]) == 1000, body.get("next")
    return body["images"]


def shown(value):
    """A value as glanceclient's tables print it."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return json.dumps(value) if value else "[]"
    return str(value)


def listings(endpoint, token, label):
    """`image-list` with paging, sorting and filters against the face's single answers."""
    one = census_images(endpoint, token, "sort_key=name&sort_dir=asc")
    if not one:
        failures.append(f"{label}: the cloud lists no image")
        return one
    cases = [
        # glanceclient's default: by name, pages of 20.
        ((), "sort_key=name&sort_dir=asc"),
        (("--page-size", "7"), "sort_key=name&sort_dir=asc"),
        (("--sort", "name:desc,created_at:asc", "--page-size", "5", "--limit", "12"),
         "sort=name:desc,created_at:asc"),
        (("--sort-key", "created_at", "--sort-dir", "desc", "--page-size", "9"),
         "sort_key=created_at&sort_dir=desc"),
        (("--visibility", "all", "--member-status", "all", "--page-size", "11"),
         "visibility=all&member_status=all&sort_key=name&sort_dir=asc"),
        (("--visibility", "public", "--page-size", "4"),
         "visibility=public&sort_key=name&sort_dir=asc"),
        (("--hidden", "--page-size", "3"), "os_hidden=True&sort_key=name&sort_dir=asc"),
    ]
    distro = next((i["os_distro"] for i in one if "os_distro" in i), None)
    if distro:
        cases.append((("--property-filter", f"os_distro={distro}", "--page-size", "2"),
                      urllib.parse.urlencode({"os_distro": distro}) + "&sort_key=name&sort_dir=asc"))
    else:
        failures.append(f"{label}: no image has os_distro")
    owner = next((i["owner"] for i in one if i.get("owner")), None)
    if owner:
        cases.append((("--owner", owner), f"owner={owner}&sort_key=name&sort_dir=asc"))
    tag = next((i["tags"][0] for i in one if i.get("tags")), None)
    if tag:
        cases.append((("--tag", tag), f"tag={urllib.parse.quote(tag)}&sort_key=name&sort_dir=asc"))
    for args, query in cases:
        want = census_images(endpoint, token, query)
        if "--limit" in args:
            want = want[: int(args[args.index("--limit") + 1])]
        got = glance_rows(endpoint, token, "image-list", *args)
        check(f"{label}: image-list {' '.join(args)}", got,
              [[i["id"], shown(i["name"]) if i["name"] is not None else ""] for i in want])
    verbose = glance_rows(endpoint, token, "--verbose", "image-list", "--page-size", "6")
    check(f"{label}: --verbose image-list", verbose,
          [[i["id"], i["name"] or "", shown(i["disk_format"] or ""), shown(i["container_format"] or ""),
            shown(i["size"] if i["size"] is not None else ""), i["status"], i["owner"] or ""]
           for i in one])
    return one


def show(endpoint, token, image, label):
    rows = dict(glance_rows(endpoint, token, "image-show", image["id"]))
    want = {k: shown(v) for k, v in image.items() if k not in ("self", "file", "schema")}
    if image.get("virtual_size") is None:
        want["virtual_size"] = "Not available"
    check(f"{label}: image-show {image['id']}", rows, want)


def writes_fail(endpoint, token, image_id, label):
    for args in (("image-create", "--name", "x", "--disk-format", "qcow2", "--container-format", "bare"),
                 ("image-update", "--name", "renamed", image_id),
                 ("image-tag-update", image_id, "t")):
        status, out, err = glance(endpoint, token, *args)
        check(f"{label}: {args[0]} fails read-only",
              (status != 0, "HTTP 403 Forbidden: cloudcensus is a read-only census" in err),
              (True, True))


def discovery(endpoint, token, label):
    """`glance usage`, `import-info` and `stores-info` against the face's documents."""
    usage = http(f"{endpoint}/v2/info/usage", token)["usage"]
    rows = glance_rows(endpoint, token, "usage")
    check(f"{label}: usage", rows,
          [[k, str(v["limit"]), str(v["usage"])] for k, v in sorted(usage.items())])
    methods = http(f"{endpoint}/v2/info/import", token)
    rows = dict(glance_rows(endpoint, token, "import-info"))
    check(f"{label}: import-info", rows.get("import-methods", "").replace(" ", ""),
          compact(methods["import-methods"]))
    stores = http(f"{endpoint}/v2/info/stores", token)
    rows = dict(glance_rows(endpoint, token, "stores-info"))
    check(f"{label}: stores-info", rows.get("stores", "").replace(" ", ""), compact(stores["stores"]))


def sdk(endpoint, token, images, label):
    """openstacksdk through keystoneauth's admin_token plugin (the endpoint ends in /v2)."""
    import openstack

    conn = openstack.connect(auth_type="admin_token", auth={"endpoint": endpoint + "/v2", "token": token})
    got = [i.id for i in conn.image.images(sort_key="name", sort_dir="asc", limit=6)]
    check(f"{label}: openstacksdk images()", got, [i["id"] for i in images])
    one = conn.image.get_image(images[0]["id"])
    check(f"{label}: openstacksdk get_image()", (one.id, one.name, one.min_disk, one.visibility),
          (images[0]["id"], images[0]["name"], images[0]["min_disk"], images[0]["visibility"]))


def with_glance_facts(tenant):
    """The tenant after a sync that read its Glance's `/v2/info/*`: the demo's clouds sync in
    cloud mode (one admin listing), which reads them for no tenant; a per-tenant pull does."""
    census_api(f"/api/service-settings/{tenant['service_settings_uuid']}/",
               {"options": {"sync_mode": "per_tenant"}}, method="PATCH")
    census_api(f"/api/openstack-tenants/{tenant['uuid']}/pull/", {})
    for _ in range(300):
        now = census_api(f"/api/openstack-tenants/{tenant['uuid']}/")
        if now["image_quota_usage"] and now["import_methods"]:
            return now
        time.sleep(0.1)
    raise SystemExit(f"tenant {tenant['name']}: no Glance facts after a per-tenant pull")


def main():
    # A cloud with a tenant whose Glance reported its quota and import methods (the demo
    # has an older Glance too, without them).
    tenants = census_api("/api/openstack-tenants/?page_size=300")
    tenant = next((t for t in tenants if t["image_quota_usage"] and t["import_methods"]), None)
    if tenant is None:
        tenant = with_glance_facts(tenants[0])
    endpoint = f"{BASE}/image/{tenant['service_settings_uuid']}"
    print(f"glance endpoint: {endpoint}")
    images = listings(endpoint, STAFF, "staff")
    if images:
        for image in images[:3]:
            show(endpoint, STAFF, image, "staff")
        writes_fail(endpoint, STAFF, images[0]["id"], "staff")
        sdk(endpoint, STAFF, images, "staff")

    # A token of one tenant reads what its project sees, and its Glance's facts.
    scoped = census_api("/api/tokens/", {"name": "glanceclient-test", "tenants": [tenant["url"]]})
    token = scoped["token"]
    images = listings(endpoint, token, f"tenant {tenant['name']}")
    if images:
        show(endpoint, token, images[-1], f"tenant {tenant['name']}")
    discovery(endpoint, token, f"tenant {tenant['name']}")

    if failures:
        print(f"glanceclient: {len(failures)} check(s) failed")
        sys.exit(1)
    print("glanceclient: every check passed")


main()
