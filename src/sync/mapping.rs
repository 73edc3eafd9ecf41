//! From OpenStack wire types to catalog records.
use uuid::Uuid;

use crate::catalog::inventory::{ImageRecord, InstanceRecord};
use crate::catalog::{CloudId, ImageId, ImageVisibility, TenantId};
use crate::openstack::glance::GlanceImage;
use crate::openstack::nova::NovaServer;

/// Glance counts `min_disk` in GB; the catalog (like Waldur) in MiB.
const MIB_PER_GB: i64 = 1024;

pub fn image_record(img: &GlanceImage) -> ImageRecord {
    let prop = |k: &str| img.properties.get(k).cloned().unwrap_or_default();
    let properties = img
        .properties
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "hw_rescue_device" | "hw_rescue_bus"))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>();
    ImageRecord {
        // The row's identity is the catalog's to assign when it stores the record.
        id: ImageId(0),
        uuid: Uuid::nil(),
        cloud_id: CloudId(0),
        backend_id: img.id.clone(),
        name: img.name.clone(),
        min_disk: img.min_disk_gb.saturating_mul(MIB_PER_GB),
        min_ram: img.min_ram_mb,
        status: img.status.clone(),
        // Glance v2 knows these four; anything else is treated as the most restrictive.
        visibility: ImageVisibility::parse(&img.visibility).unwrap_or(ImageVisibility::Private),
        size: img.size,
        checksum: img.checksum.clone(),
        disk_format: img.disk_format.clone(),
        container_format: img.container_format.clone(),
        backend_created_at: img.created_at,
        backend_updated_at: img.updated_at,
        hw_rescue_device: prop("hw_rescue_device"),
        hw_rescue_bus: prop("hw_rescue_bus"),
        properties: serde_json::Value::Object(properties),
        owner: img.owner.clone(),
        protected: img.protected,
        os_hidden: img.os_hidden,
        tags: serde_json::json!(img.tags),
        os_hash_algo: img.os_hash_algo.clone(),
        os_hash_value: img.os_hash_value.clone(),
        virtual_size: img.virtual_size,
    }
}

/// The server as the catalog keeps it for `tenant` (listed, so not deleted).
/// `image_id` and `image_name` are what it counts for (its own image, or its boot volume's).
pub fn instance_record(
    server: &NovaServer,
    image_id: Option<String>,
    image_name: String,
    boot_volume: Option<(String, Option<i64>)>,
    tenant: TenantId,
) -> InstanceRecord {
    let (boot_volume_id, boot_volume_gib) = boot_volume.unzip();
    InstanceRecord {
        id: 0,
        uuid: Uuid::nil(),
        cloud_id: CloudId(0),
        tenant_id: tenant,
        deleted_at: None,
        backend_id: server.id.clone(),
        name: server.name.clone(),
        image_backend_id: image_id,
        image_name,
        status: server.status.as_str().into(),
        backend_created_at: server.created,
        flavor_name: server.flavor.name.clone(),
        vcpus: server.flavor.vcpus,
        ram_mib: server.flavor.ram_mib,
        disk_gib: server.flavor.disk_gib,
        ephemeral_gib: server.flavor.ephemeral_gib,
        launched_at: server.launched_at,
        terminated_at: server.terminated_at,
        upstream_updated_at: server.updated,
        vm_state: server.vm_state.clone().unwrap_or_default(),
        attached_volumes: serde_json::json!(server.volume_ids),
        boot_volume_id,
        boot_volume_gib: boot_volume_gib.flatten(),
        usage_seq: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_disk_becomes_mib_and_rescue_fields_are_lifted() {
        let img = GlanceImage::from_json(&serde_json::json!({
            "id": "i", "name": "n", "min_disk": 3, "min_ram": 256,
            "hw_rescue_device": "cdrom", "hw_rescue_bus": "ide", "os_distro": "ubuntu"
        }))
        .unwrap();
        let r = image_record(&img);
        assert_eq!((r.min_disk, r.min_ram), (3072, 256));
        assert_eq!(
            (r.hw_rescue_device.as_str(), r.hw_rescue_bus.as_str()),
            ("cdrom", "ide")
        );
        assert_eq!(r.properties, serde_json::json!({"os_distro": "ubuntu"}));
    }
}
