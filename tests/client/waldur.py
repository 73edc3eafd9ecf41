"""Drives the published Waldur client (`waldur-api-client` from PyPI, generated from Waldur's
own OpenAPI document) against a running cloudcensus: every image endpoint must parse into
Waldur's models, with the census's extra fields kept as additional properties.

Usage: waldur.py BASE_URL STAFF_TOKEN. Exits non-zero at the first deviation.
"""

import sys

from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.openstack_images import (
    openstack_images_count,
    openstack_images_list,
    openstack_images_retrieve,
    openstack_images_usage_stats_count,
)
from waldur_api_client.models import OpenStackImage, OpenStackUsageStatsResponse

# What the census adds after Waldur's fields.
DETAIL = ("status", "visibility", "size", "disk_format", "owner", "tags", "tenants_count")


def check(condition, message):
    if not condition:
        print(f"waldur client: {message}")
        sys.exit(1)


def parsed(response, label):
    check(response.status_code == 200, f"{label}: status {response.status_code}")
    check(response.parsed is not None, f"{label}: the body did not parse")
    return response.parsed


def main():
    base, token = sys.argv[1], sys.argv[2]
    client = AuthenticatedClient(base_url=base, token=token, prefix="Token")

    images = parsed(openstack_images_list.sync_detailed(client=client, page_size=50), "list")
    check(len(images) > 0, "list: no images")
    for image in images:
        check(isinstance(image, OpenStackImage), f"list: {type(image)}")
        check(image.url.startswith(base), f"list: url {image.url}")
        for key in DETAIL:
            check(key in image.additional_properties, f"list: {key} not kept as an extra")
    first = images[0]

    one = parsed(openstack_images_retrieve.sync_detailed(client=client, uuid=first.uuid), "retrieve")
    check(one.uuid == first.uuid and one.name == first.name, "retrieve: another image")
    check(one.additional_properties == first.additional_properties, "retrieve: other details")

    named = parsed(
        openstack_images_list.sync_detailed(client=client, name_exact=first.name, show_duplicate_names=True),
        "list name_exact",
    )
    check(all(i.name == first.name for i in named), "list name_exact: other names")
    settings_uuid = first.settings.rstrip("/").rsplit("/", 1)[-1]
    in_cloud = parsed(
        openstack_images_list.sync_detailed(client=client, settings_uuid=settings_uuid, page_size=50),
        "list settings_uuid",
    )
    check(all(i.settings == first.settings for i in in_cloud), "list settings_uuid: other clouds")

    count = openstack_images_count.sync_detailed(client=client)
    check(count.status_code == 200, f"count: status {count.status_code}")
    check(int(count.headers["x-result-count"]) >= len(images), "count: fewer than listed")

    # Waldur's document declares usage_stats as one object, while its server (like the census)
    # answers a page of them: the client's generated call cannot read Waldur's own answer, so
    # each row is parsed with the client's model instead.
    raw = client.get_httpx_client().get("/api/openstack-images/usage_stats/", params={"page_size": 50})
    check(raw.status_code == 200, f"usage_stats: status {raw.status_code}")
    stats = [OpenStackUsageStatsResponse.from_dict(row) for row in raw.json()]
    check(len(stats) > 0, "usage_stats: no rows")
    stats_count = openstack_images_usage_stats_count.sync_detailed(client=client)
    check(stats_count.status_code == 200, f"usage_stats count: status {stats_count.status_code}")
    print(f"waldur client: {len(images)} images and {len(stats)} usage rows parsed into Waldur's models")


if __name__ == "__main__":
    main()
