//! The catalog: the one door to the database. [`Catalog`] owns the connection pool, the
//! listing index and the key that seals stored credentials; its methods are grouped by
//! resource (`catalog.clouds()`, `.tenants()`, `.images()`, `.usage()`, `.offerings()`,
//! `.tokens()`, `.sync_runs()`, `.inventory()`), speak the domain (typed ids and values,
//! [`CatalogError`]) and know nothing of HTTP. Every write that changes a cloud's listing
//! invalidates the listing index itself, so callers never have to.
pub mod clouds;
pub mod credentials;
mod db;
pub use db::OpenError;
pub mod discovery;
mod error;
pub mod glance_projects;
pub mod image_info;
pub mod image_quotas;
pub mod images;
pub mod inventory;
pub mod offerings;
pub mod paging;
pub mod read_index;
pub mod sizes;
pub mod sync_runs;
pub mod tenants;
pub mod tokens;
pub mod usage;
pub mod usage_report;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use uuid::Uuid;

pub use entity::server_status::ServerStatus;
pub use entity::types::{
    CloudId, DatedBy, ErrorKind, ImageId, ImageVisibility, Interface, MemberStatus, RunOutcome,
    State, SyncMode, TenantId, TokenId,
};
pub use error::{CatalogError, CatalogResult};

use crate::crypto::SecretBox;
use read_index::ReadIndex;

/// The catalog service. Cheap to clone: clones share the pool and the index.
#[derive(Clone)]
pub struct Catalog {
    /// The pool that serves reads (the API, the listing index).
    db: DatabaseConnection,
    /// The pool that writes, and that syncs read through: a sync can never hold a
    /// connection a reader waits for.
    writes: DatabaseConnection,
    index: Arc<ReadIndex>,
    /// The instances' lifecycle history, as usage reports read it.
    history: Arc<usage_report::History>,
    tokens: Arc<tokens::TokenCache>,
    secrets: SecretBox,
}

impl Catalog {
    /// Opens the database at `url`, bringing its schema up to date first. `read_index = false`
    /// answers every listing with SQL.
    pub async fn open(url: &str, secrets: SecretBox, read_index: bool) -> CatalogResult<Self> {
        let pools = db::open(url).await?;
        Ok(Self {
            db: pools.reads,
            writes: pools.writes,
            index: ReadIndex::new(read_index, pools.index),
            history: Arc::default(),
            tokens: Arc::default(),
            secrets,
        })
    }

    /// Another catalog over the same database with a listing index of its own (a process
    /// keeps one index; tests compare an index-less twin with it).
    pub fn with_read_index(&self, enabled: bool) -> Self {
        Self {
            index: ReadIndex::new(enabled, self.index.connection().clone()),
            ..self.clone()
        }
    }

    pub fn clouds(&self) -> clouds::Clouds<'_> {
        clouds::Clouds(self)
    }

    pub fn tenants(&self) -> tenants::Tenants<'_> {
        tenants::Tenants(self)
    }

    pub fn images(&self) -> images::Images<'_> {
        images::Images(self)
    }

    pub fn usage(&self) -> usage::Usage<'_> {
        usage::Usage(self)
    }

    pub fn usage_report(&self) -> usage_report::UsageReport<'_> {
        usage_report::UsageReport(self)
    }

    pub fn discovery(&self) -> discovery::Discovery<'_> {
        discovery::Discovery(self)
    }

    pub fn offerings(&self) -> offerings::Offerings<'_> {
        offerings::Offerings(self)
    }

    pub fn tokens(&self) -> tokens::Tokens<'_> {
        tokens::Tokens(self)
    }

    pub fn sync_runs(&self) -> sync_runs::SyncRuns<'_> {
        sync_runs::SyncRuns(self)
    }

    /// What a sync reads and writes.
    pub fn inventory(&self) -> inventory::Inventory<'_> {
        inventory::Inventory(self)
    }

    /// Builds the listing index now and waits for it; returns how many clouds were read.
    pub async fn rebuild_read_index(&self) -> CatalogResult<usize> {
        Ok(self.index.rebuild().await?)
    }

    /// Listing requests answered from the index so far (the rest went to SQL).
    pub fn read_index_served(&self) -> u64 {
        self.index.served()
    }

    /// Brings the listing index up to date after one of the catalog's own writes (a failure
    /// is logged: the next request's version check starts another rebuild).
    async fn refresh_index(&self) {
        if let Err(e) = self.index.refresh().await {
            tracing::warn!(error = %e, "listing index refresh failed");
        }
    }

    /// Starts building the listing index now rather than on the first request.
    pub fn warm_read_index(&self) {
        self.index.warm();
    }

    /// Cheap reachability probe for `/health`.
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// Closes the pool (tests and the CLI close before removing a database).
    pub async fn close(self) -> CatalogResult<()> {
        self.writes.close().await?;
        self.index.connection().clone().close().await?;
        Ok(self.db.close().await?)
    }

    /// The read pool.
    fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The write pool (also the syncs' reads).
    fn writer(&self) -> &DatabaseConnection {
        &self.writes
    }
}

/// What a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Staff: everything.
    All,
    /// A scoped token: only what is linked to these tenants.
    Tenants(Vec<TenantId>),
}

/// Accepts a uuid as 32 hex digits or in the hyphenated form.
pub fn parse_uuid(raw: &str) -> Option<Uuid> {
    let raw = raw.trim();
    match raw.len() {
        32 | 36 => Uuid::try_parse(raw).ok(),
        _ => None,
    }
}

/// The wire form of a uuid: 32 lowercase hex digits.
pub fn hex(uuid: &Uuid) -> String {
    uuid.simple().to_string()
}

/// A case-insensitive "contains" pattern for `LOWER(column) LIKE`, wildcards escaped so user
/// input matches literally.
fn like_contains(needle: &str) -> sea_orm::sea_query::LikeExpr {
    let mut pattern = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')
}

/// Every tenant's uuid and name, by id: what rows grouped by tenant show.
async fn tenant_labels(
    db: &sea_orm::DatabaseConnection,
) -> CatalogResult<std::collections::HashMap<TenantId, (Uuid, String)>> {
    use sea_orm::{EntityTrait, QuerySelect};
    Ok(entity::tenants::Entity::find()
        .select_only()
        .column(entity::tenants::Column::Id)
        .column(entity::tenants::Column::Uuid)
        .column(entity::tenants::Column::Name)
        .into_tuple::<(TenantId, Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, uuid, name)| (id, (uuid, name)))
        .collect())
}

/// Every cloud's uuid and name, by id: what rows grouped by cloud show.
async fn cloud_labels(
    db: &sea_orm::DatabaseConnection,
) -> CatalogResult<std::collections::HashMap<CloudId, (Uuid, String)>> {
    use sea_orm::{EntityTrait, QuerySelect};
    Ok(entity::service_settings::Entity::find()
        .select_only()
        .column(entity::service_settings::Column::Id)
        .column(entity::service_settings::Column::Uuid)
        .column(entity::service_settings::Column::Name)
        .into_tuple::<(CloudId, Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, uuid, name)| (id, (uuid, name)))
        .collect())
}

pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_parse_in_both_forms_only() {
        let u = Uuid::new_v4();
        assert_eq!(parse_uuid(&hex(&u)), Some(u));
        assert_eq!(parse_uuid(&u.hyphenated().to_string()), Some(u));
        assert_eq!(parse_uuid(&hex(&u).to_uppercase()), Some(u));
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(parse_uuid(&format!("urn:uuid:{u}")), None);
        assert_eq!(hex(&u).len(), 32);
    }
}
