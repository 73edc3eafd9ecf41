"""Drives a client generated from openapi/openapi.json against a running cloudcensus.

Usage: smoke.py BASE_URL STAFF_TOKEN (the generated package `cloudcensus_client` on the path).
Every call must answer its success status with a body that parses into the model the document
declares; paging follows the `Link` header. Exits non-zero at the first deviation.
"""

import re
import sys

from cloudcensus_client import AuthenticatedClient
from cloudcensus_client.api.openstack_images import (
    openstack_images_list,
    openstack_images_retrieve,
    openstack_images_usage_report_list,
    openstack_images_usage_stats_retrieve,
)
from cloudcensus_client.api.openstack_tenants import (
    openstack_tenants_list,
    openstack_tenants_retrieve,
)
from cloudcensus_client.api.service_settings import (
    service_settings_check,
    service_settings_list,
    service_settings_retrieve,
)
from cloudcensus_client.api.sync_runs import sync_runs_list
from cloudcensus_client.models import (
    CloudCheck,
    ImageUsageStats,
    OpenStackImage,
    OpenStackTenant,
    ServiceSettings,
    SyncRun,
    UsageReportRow,
)


def expect(response, model, status=200):
    """The parsed body of a response that must have `status` and parse into `model`."""
    if response.status_code != status:
        sys.exit(f"{response.status_code} instead of {status}: {response.content[:500]!r}")
    parsed = response.parsed
    items = parsed if isinstance(parsed, list) else [parsed]
    for item in items:
        if not isinstance(item, model):
            sys.exit(f"expected {model.__name__}, got {type(item).__name__}: {item!r}")
    return parsed


def next_page(response):
    """The `page` of the `Link` header's next relation, or None on the last page."""
    for part in response.headers.get("link", "").split(","):
        if 'rel="next"' in part:
            found = re.search(r"[?&]page=(\d+)", part)
            return found.group(1) if found else None
    return None


def all_pages(call, model, **filters):
    """Every item of a list, following `Link` page by page; checks `X-Result-Count`."""
    items, page = [], None
    while True:
        response = call(page_size="7", **({"page": page} if page else {}), **filters)
        items += expect(response, model)
        total = int(response.headers["x-result-count"])
        page = next_page(response)
        if page is None:
            break
    if len(items) != total:
        sys.exit(f"{len(items)} items on the pages, X-Result-Count says {total}")
    return items


def main(base, token):
    client = AuthenticatedClient(base_url=base, token=token, prefix="Token")

    def images_list(**kw):
        return openstack_images_list.sync_detailed(client=client, **kw)

    images = all_pages(images_list, OpenStackImage, name="ubuntu")
    assert images and all("ubuntu" in i.name.lower() for i in images), images
    rescue = all_pages(images_list, OpenStackImage, is_rescue_image="true")
    assert rescue and all(i.is_rescue_image for i in rescue)
    for image in images[:3]:
        one = expect(openstack_images_retrieve.sync_detailed(image.uuid, client=client), OpenStackImage)
        assert one.uuid == image.uuid and one.url == image.url
    expect(openstack_images_retrieve.sync_detailed("0" * 32, client=client), object, status=404)

    stats = expect(
        openstack_images_usage_stats_retrieve.sync_detailed(client=client, page_size="300"),
        ImageUsageStats,
    )
    assert any(s.running_instances_count > 0 for s in stats), stats
    by_tenant = expect(
        openstack_images_usage_stats_retrieve.sync_detailed(client=client, group_by="tenant"),
        ImageUsageStats,
    )
    assert by_tenant and all(s.tenant_uuid for s in by_tenant)

    report = expect(
        openstack_images_usage_report_list.sync_detailed(
            client=client, group_by="tenant,name", period="day", page_size="50"
        ),
        UsageReportRow,
    )
    assert report and all(r.instance_hours >= 0 for r in report), report

    def tenants_list(**kw):
        return openstack_tenants_list.sync_detailed(client=client, **kw)

    tenants = all_pages(tenants_list, OpenStackTenant)
    assert tenants and all(t.state == "OK" for t in tenants), tenants
    one = expect(openstack_tenants_retrieve.sync_detailed(tenants[0].uuid, client=client), OpenStackTenant)
    assert one.uuid == tenants[0].uuid

    def clouds_list(**kw):
        return service_settings_list.sync_detailed(client=client, **kw)

    clouds = all_pages(clouds_list, ServiceSettings)
    assert clouds
    for cloud in clouds:
        one = expect(service_settings_retrieve.sync_detailed(cloud.uuid, client=client), ServiceSettings)
        assert one.last_sweep is not None, f"{cloud.name} has no sweep"
        check = expect(service_settings_check.sync_detailed(cloud.uuid, client=client), CloudCheck)
        assert check.ok and check.login.admin, f"{cloud.name}: {check!r}"
        assert any(s.service_type == "image" and s.ok for s in check.services), check

    def runs_list(**kw):
        return sync_runs_list.sync_detailed(client=client, **kw)

    runs = all_pages(runs_list, SyncRun)
    assert len(runs) >= len(tenants) and all(r.outcome == "success" for r in runs), runs

    print(
        f"client: {len(images)} ubuntu images over pages, {len(stats)} usage rows, "
        f"{len(report)} report rows, {len(tenants)} tenants, {len(clouds)} clouds (checked), "
        f"{len(runs)} sync runs: every response parsed"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
