//! What the simulated cloud holds: projects, users, application credentials, images and
//! servers. Tests and the demo build a `World`, start a simulator on it, and may change it
//! while it runs.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct World {
    #[serde(default = "default_region")]
    pub region: String,
    /// Lifetime of issued tokens.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: i64,
    #[serde(default)]
    pub projects: Vec<Project>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub app_credentials: Vec<AppCredential>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub servers: Vec<Server>,
    /// Older clouds lack the `/v2/info/*` endpoints: switch each off to answer 404.
    #[serde(default = "yes")]
    pub info_usage_enabled: bool,
    #[serde(default = "yes")]
    pub info_stores_enabled: bool,
    #[serde(default = "yes")]
    pub info_import_enabled: bool,
    /// What `/v2/info/stores` lists.
    #[serde(default = "default_stores")]
    pub stores: Vec<Store>,
    /// What `/v2/info/import` offers.
    #[serde(default = "default_import_methods")]
    pub import_methods: Vec<String>,
    /// Glance's `use_keystone_limits`: on, `/v2/info/usage` reports each resource's limit
    /// (from the unified limits below, as oslo.limit reads them) and usage; off, it is `{}`.
    #[serde(default = "yes")]
    pub glance_keystone_limits: bool,
    /// Keystone's registered limits for Glance (`GET /v3/registered_limits`): each
    /// resource's default for projects without a limit of their own.
    #[serde(default = "default_registered_limits")]
    pub registered_limits: Vec<RegisteredLimit>,
    /// Keystone's project limits for Glance (`GET /v3/limits`).
    #[serde(default)]
    pub project_limits: Vec<ProjectLimit>,
    /// The highest compute microversion offered; a request for a higher one is 406.
    #[serde(default = "default_nova_microversion")]
    pub nova_max_microversion: String,
    /// Whether `GET /compute/v2.1/` answers the version document (404 otherwise).
    #[serde(default = "yes")]
    pub nova_version_document: bool,
    /// Off: a cloud without Nova (an image-only cloud), whose catalog has no compute endpoint.
    #[serde(default = "yes")]
    pub compute_enabled: bool,
    /// Cinder volumes, listed in this order.
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// Off: a cloud without Cinder, whose catalog has no volume endpoint at all.
    #[serde(default = "yes")]
    pub volume_enabled: bool,
    /// The catalog's service type for Cinder: `block-storage` (the official name), or
    /// `volumev3`/`volumev2` as older deployments register it (`volumev2` serves `/v2`).
    #[serde(default = "default_volume_service_type")]
    pub volume_service_type: String,
    /// Keystone's `list_limit` for `GET /v3/projects`: a longer listing is cut to this many
    /// and marked `"truncated": true`, as Keystone does; `None` for no limit.
    #[serde(default)]
    pub keystone_list_limit: Option<usize>,
    /// Deleted servers, as Nova keeps them (`DELETED`, with `terminated_at`): gone from the
    /// listings, still in the instance action log (from 2.21) and in `os-simple-tenant-usage`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_servers: Vec<Server>,
    /// On: the instance action log answers 403 with Nova's policy error, as a cloud whose
    /// operator restricted `os_compute_api:os-instance-actions:*` does (clients fall back).
    #[serde(default)]
    pub instance_actions_forbidden: bool,
    /// How long the events of a scripted action take: they start at the clock's time and
    /// finish this many seconds later, and the launch or termination they cause is dated by
    /// their end, as Nova dates it when the compute host is done.
    #[serde(default)]
    pub action_event_secs: i64,
}

fn default_nova_microversion() -> String {
    "2.96".into()
}

fn default_volume_service_type() -> String {
    "block-storage".into()
}

fn default_region() -> String {
    "RegionOne".into()
}

fn default_token_ttl() -> i64 {
    3600
}

/// Generous defaults for Glance's four quota resources, in the default region.
fn default_registered_limits() -> Vec<RegisteredLimit> {
    [
        ("image_size_total", 102_400_000),
        ("image_stage_total", 102_400_000),
        ("image_count_total", 10_000),
        ("image_count_uploading", 10_000),
    ]
    .map(|(resource, limit)| RegisteredLimit::new(resource, limit))
    .to_vec()
}

/// A registered limit of Glance's (Keystone's service `glance-service` in the simulator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegisteredLimit {
    pub resource_name: String,
    pub default_limit: i64,
    /// Keystone's `region_id`: oslo.limit asks for its endpoint's region, so a limit
    /// registered without one (`None`) does not apply to Glance's quotas.
    #[serde(default)]
    pub region_id: Option<String>,
}

impl RegisteredLimit {
    /// A limit in the default region, `RegionOne`.
    pub fn new(resource: &str, limit: i64) -> Self {
        Self {
            resource_name: resource.into(),
            default_limit: limit,
            region_id: Some(default_region()),
        }
    }
}

/// A project's own limit of one of Glance's resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectLimit {
    pub project_id: String,
    pub resource_name: String,
    pub resource_limit: i64,
    #[serde(default)]
    pub region_id: Option<String>,
}

impl ProjectLimit {
    /// A limit in the default region, `RegionOne`.
    pub fn new(project: &str, resource: &str, limit: i64) -> Self {
        Self {
            project_id: project.into(),
            resource_name: resource.into(),
            resource_limit: limit,
            region_id: Some(default_region()),
        }
    }
}

fn yes() -> bool {
    true
}

/// A Glance store as `/v2/info/stores` describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Store {
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: bool,
}

fn default_stores() -> Vec<Store> {
    vec![Store {
        id: "file".into(),
        description: "Local file store".into(),
        default: true,
    }]
}

fn default_import_methods() -> Vec<String> {
    ["glance-direct", "web-download", "copy-image"]
        .map(String::from)
        .to_vec()
}

impl Default for World {
    fn default() -> Self {
        Self {
            region: default_region(),
            token_ttl_secs: default_token_ttl(),
            projects: Vec::new(),
            users: Vec::new(),
            app_credentials: Vec::new(),
            images: Vec::new(),
            servers: Vec::new(),
            info_usage_enabled: true,
            info_stores_enabled: true,
            info_import_enabled: true,
            stores: default_stores(),
            import_methods: default_import_methods(),
            glance_keystone_limits: true,
            registered_limits: default_registered_limits(),
            project_limits: Vec::new(),
            nova_max_microversion: default_nova_microversion(),
            nova_version_document: true,
            compute_enabled: true,
            volumes: Vec::new(),
            volume_enabled: true,
            volume_service_type: default_volume_service_type(),
            keystone_list_limit: None,
            deleted_servers: Vec::new(),
            instance_actions_forbidden: false,
            action_event_secs: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    #[serde(default = "default_domain")]
    pub domain_id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Keystone's project tags, which `GET /v3/projects` filters on (`tags`, `tags-any`).
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub description: String,
}

pub fn default_domain() -> String {
    "default".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub password: String,
    #[serde(default = "default_domain")]
    pub domain_id: String,
    /// Ids of the projects this user has a role on.
    #[serde(default)]
    pub projects: Vec<String>,
    /// The `admin` role: as in Glance's default policy, an admin lists every image in the
    /// cloud, whichever project the token is scoped to.
    #[serde(default)]
    pub admin: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppCredential {
    pub id: String,
    pub name: String,
    pub secret: String,
    pub user_id: String,
    /// Application credentials are bound to the project their creator's token was scoped to.
    pub project_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub project_id: String,
    /// `accepted`, `pending` or `rejected`.
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    /// Glance allows a null name.
    pub name: Option<String>,
    pub owner: String,
    /// `public`, `private`, `shared` or `community`.
    pub visibility: String,
    #[serde(default)]
    pub members: Vec<Member>,
    #[serde(default)]
    pub os_hidden: bool,
    /// `queued`, `active`, `deactivated`, `pending_delete`, `deleted`, …
    pub status: String,
    /// GB.
    #[serde(default)]
    pub min_disk: i64,
    /// MB.
    #[serde(default)]
    pub min_ram: i64,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub disk_format: Option<String>,
    #[serde(default)]
    pub container_format: Option<String>,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Extra properties, shown by Glance as top-level string keys.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl Image {
    /// An active image named after its id, of `owner` with `visibility` and these
    /// `(project, status)` members, created and updated at `at`: what tests build worlds of.
    pub fn active(
        id: &str,
        owner: &str,
        visibility: &str,
        members: &[(&str, &str)],
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.into(),
            name: Some(id.into()),
            owner: owner.into(),
            visibility: visibility.into(),
            members: members
                .iter()
                .map(|(project, status)| Member {
                    project_id: project.to_string(),
                    status: status.to_string(),
                })
                .collect(),
            os_hidden: false,
            status: "active".into(),
            min_disk: 0,
            min_ram: 0,
            size: Some(1),
            checksum: None,
            disk_format: None,
            container_format: None,
            protected: false,
            tags: Vec::new(),
            created_at: at,
            updated_at: at,
            properties: Default::default(),
        }
    }

    pub fn member(&self, project_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.project_id == project_id)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub project_id: String,
    /// `None` for a server booted from a volume (Nova shows `"image": ""`).
    pub image_id: Option<String>,
    pub status: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub flavor: Flavor,
    /// `OS-SRV-USG:launched_at` / `terminated_at` (null when unset).
    #[serde(default)]
    pub launched_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub terminated_at: Option<DateTime<Utc>>,
    /// Nova's `updated`; `created` when unset.
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
    /// Ids of the attached volumes.
    #[serde(default)]
    pub volumes_attached: Vec<String>,
    /// Nova's instance action log, oldest first (the simulator's scripting methods append).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<InstanceAction>,
    /// While a resize or cold migration awaits confirmation: the flavor and status it
    /// reverts to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resized_from: Option<(Flavor, String)>,
}

impl Server {
    /// Deleted, as Nova's `read_deleted` sees it.
    pub fn is_deleted(&self) -> bool {
        self.status == "DELETED"
    }

    /// Nova's `vm_state` for the API `status` the simulator keeps (`os-simple-tenant-usage`'s
    /// `state`): task states such as `REBOOT` or `RESIZE` run on an `active` instance.
    pub fn vm_state(&self) -> &'static str {
        match self.status.as_str() {
            "BUILD" => "building",
            "SHUTOFF" => "stopped",
            "VERIFY_RESIZE" => "resized",
            "PAUSED" => "paused",
            "SUSPENDED" => "suspended",
            "RESCUE" => "rescued",
            "SHELVED" => "shelved",
            "SHELVED_OFFLOADED" => "shelved_offloaded",
            "ERROR" => "error",
            "DELETED" => "deleted",
            "SOFT_DELETED" => "soft-delete",
            _ => "active",
        }
    }
}

/// One entry of Nova's instance action log (`os-instance-actions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceAction {
    /// `create`, `stop`, `resize`, `confirmResize`, …
    pub action: String,
    pub request_id: String,
    pub user_id: String,
    pub project_id: String,
    pub start_time: DateTime<Utc>,
    /// Moved by each event's end (Nova's `updated_at`, shown from 2.58).
    pub updated_at: DateTime<Utc>,
    /// `null` unless the action failed (`Error`).
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub events: Vec<ActionEvent>,
}

/// An event of an action (`compute_stop_instance`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionEvent {
    pub event: String,
    pub start_time: DateTime<Utc>,
    pub finish_time: Option<DateTime<Utc>>,
    /// `Success` or `Error`; `null` while running.
    pub result: Option<String>,
    #[serde(default)]
    pub traceback: Option<String>,
}

/// A flavor as Nova 2.47+ embeds it in a server; older microversions show only `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    /// MiB.
    pub ram: i64,
    /// GiB.
    pub disk: i64,
    /// GiB.
    #[serde(default)]
    pub ephemeral: i64,
}

impl Default for Flavor {
    fn default() -> Self {
        Self {
            id: "1".into(),
            name: "m1.small".into(),
            vcpus: 1,
            ram: 1024,
            disk: 10,
            ephemeral: 0,
        }
    }
}

/// A Cinder volume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Sent as is: an empty id makes a malformed entry, for clients' robustness tests.
    pub id: String,
    pub project_id: String,
    #[serde(default)]
    pub name: String,
    /// GiB.
    #[serde(default = "default_volume_size")]
    pub size: i64,
    /// `available`, `in-use`, `error`, …
    #[serde(default = "default_volume_status")]
    pub status: String,
    /// Cinder shows it as a string, `"true"` or `"false"`.
    #[serde(default)]
    pub bootable: bool,
    /// `volume_image_metadata.image_id`; the metadata is shown only when this or the name is set.
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub image_name: Option<String>,
    #[serde(default)]
    pub attachments: Vec<VolumeAttachment>,
}

fn default_volume_size() -> i64 {
    1
}

fn default_volume_status() -> String {
    "available".into()
}

/// A volume attached to a server, as `device` (e.g. `/dev/vda`, the root device).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    pub server_id: String,
    #[serde(default)]
    pub device: Option<String>,
}
