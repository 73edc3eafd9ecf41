use sea_orm::entity::prelude::*;

use crate::types::{CloudId, Interface, State, SyncMode};

/// An OpenStack cloud: one Keystone endpoint and the credentials used to reach it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_settings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: CloudId,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    pub name: String,
    pub r#type: String,
    pub auth_url: String,
    pub region: String,
    pub interface: Interface,
    pub domain: String,
    pub shared: bool,
    /// Sealed credentials (see `cloudcensus::crypto`); never plaintext.
    pub credentials: Option<String>,
    pub state: State,
    pub error_message: String,
    pub created: DateTimeUtc,
    pub modified: DateTimeUtc,
    /// Raised by every write to this cloud's images or links (see the API's listing index).
    pub catalog_version: i64,
    /// Raised by every write to this cloud's instances (the listing index's usage counts).
    pub usage_version: i64,
    /// How sweeps list the cloud: per tenant, once for the whole cloud, or decided by the
    /// credentials' roles.
    pub sync_mode: SyncMode,
    /// Whether sweeps create and retire tenants from Keystone's projects.
    pub discover_tenants: bool,
    /// The tags a project needs to be discovered (all of them); a JSON array of strings.
    pub project_tags: Json,
    /// What the last sweep of the cloud did: mode, tenants, upstream requests by service.
    pub last_sweep: Option<Json>,
    /// Where the next delta poll starts (see `cloudcensus::sync::cloud::Cursor`).
    pub delta_cursor: Option<Json>,
    /// PEM CA certificates trusted for this cloud beside the system's roots.
    pub tls_cacert: Option<String>,
    /// `false`: the cloud's certificates are not checked at all.
    pub tls_verify: bool,
    /// PEM client certificate (chain) presented to the cloud.
    pub tls_cert: Option<String>,
    /// The client certificate's private key, sealed (see `cloudcensus::crypto`).
    pub tls_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::tenants::Entity")]
    Tenants,
    #[sea_orm(has_many = "super::images::Entity")]
    Images,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenants.def()
    }
}

impl Related<super::images::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Images.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
