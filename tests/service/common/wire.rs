//! The API's wire objects as the tests read them. Each struct lists every field the server
//! sends and refuses any other (`deny_unknown_fields`), so parsing a body also checks its
//! exact shape; comparing two parsed objects compares every field.
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// `/api/openstack-images/` items (Waldur's `OpenStackImage`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub url: String,
    pub uuid: String,
    pub name: String,
    pub min_disk: i64,
    pub min_ram: i64,
    pub settings: String,
    pub backend_id: String,
    pub backend_created_at: Option<String>,
    pub hw_rescue_device: String,
    pub hw_rescue_bus: String,
    pub is_rescue_image: bool,
    pub status: String,
    pub visibility: String,
    pub size: Option<i64>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub owner: Option<String>,
    pub protected: bool,
    pub os_hidden: bool,
    pub tags: Vec<String>,
    pub os_distro: Option<String>,
    pub os_version: Option<String>,
    pub architecture: Option<String>,
    pub backend_updated_at: Option<String>,
    pub tenants_count: u64,
}

/// `/api/openstack-images/usage_stats/` rows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageStat {
    pub name: String,
    pub running_instances_count: i64,
    pub created_instances_count: i64,
}

/// `/api/service-settings/` objects: a registered cloud. Credentials are write-only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    pub url: String,
    pub uuid: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub state: String,
    pub error_message: String,
    pub shared: bool,
    pub options: Value,
    pub warnings: Vec<String>,
    pub last_sweep: Option<Value>,
    pub created: String,
    pub modified: String,
}

/// `/api/openstack-tenants/` objects. Credentials are write-only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub url: String,
    pub uuid: String,
    pub name: String,
    pub backend_id: String,
    pub service_settings: String,
    pub service_settings_uuid: String,
    pub state: String,
    pub error_message: String,
    pub created: String,
    pub modified: String,
    pub last_sync_at: Option<String>,
    pub last_success_at: Option<String>,
    pub image_quota_usage: Option<Value>,
    pub stores: Option<Value>,
    pub import_methods: Option<Value>,
    pub unavailable_services: Vec<String>,
    /// Why the last sync failed while the tenant is ERRED (a stable name); null when OK.
    pub error_kind: Option<String>,
}

/// `/api/offerings/` objects.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offering {
    pub url: String,
    pub uuid: String,
    pub name: String,
    pub scope: Option<String>,
    pub scope_uuid: Option<String>,
    pub created: String,
}

/// `/api/tokens/` objects; `token` (the secret) only in the answer that created it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    pub uuid: String,
    pub name: String,
    pub is_staff: bool,
    pub tenants: Vec<String>,
    pub created: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

/// `/api/sync-runs/` objects.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRun {
    pub uuid: String,
    pub tenant: String,
    pub tenant_uuid: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: String,
    pub images_seen: i64,
    pub images_added: i64,
    pub images_updated: i64,
    pub images_removed: i64,
    pub instances_seen: i64,
    pub error_message: String,
    pub unavailable_services: Vec<String>,
    /// Why the run failed, aborted or was interrupted (a stable name); null for a success.
    pub error_kind: Option<String>,
}

/// DRF's `{"detail": "…"}` error body, exactly.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    pub detail: String,
}

impl Detail {
    pub fn new(detail: &str) -> Self {
        Self {
            detail: detail.to_string(),
        }
    }
}

/// DRF's validation error body: each bad field with its messages.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// `/health`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub status: String,
    pub database: String,
}
