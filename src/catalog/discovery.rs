//! Tenant discovery: a cloud's tenants follow Keystone's projects. New enabled projects get a
//! tenant, renamed ones rename it, and a tenant whose project is disabled or gone is retired:
//! ERRED with the reason, linked to no image (images no other tenant sees go), skipped by
//! sweeps, its row and usage history kept. A project that comes back brings its tenant back.
use std::collections::HashMap;

use entity::{image_tenants, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::{Catalog, CatalogResult, CloudId, ImageId, State, TenantId, now};

pub const PROJECT_DISABLED: &str = "project disabled";
pub const PROJECT_DELETED: &str = "project deleted";

/// A Keystone project as discovery needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenProject {
    pub id: String,
    pub name: String,
    pub enabled: bool,
}

/// What a discovery changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    pub created: u64,
    pub renamed: u64,
    pub retired: u64,
    pub restored: u64,
}

pub struct Discovery<'a>(pub(super) &'a Catalog);

impl Discovery<'_> {
    /// Brings the cloud's tenants in line with `projects`, the complete listing of the
    /// projects it should have.
    pub async fn reconcile(
        &self,
        cloud: CloudId,
        projects: &[SeenProject],
    ) -> CatalogResult<Discovered> {
        let txn = super::db::begin_write(self.0.writer()).await?;
        super::db::lock_cloud_writes(&txn, cloud).await?;
        let held: Vec<tenants::Model> = tenants::Entity::find()
            .filter(tenants::Column::CloudId.eq(cloud))
            .all(&txn)
            .await?;
        let by_project: HashMap<&str, &tenants::Model> =
            held.iter().map(|t| (t.backend_id.as_str(), t)).collect();
        let mut done = Discovered::default();
        let mut unlinked = false;
        for p in projects {
            match (by_project.get(p.id.as_str()), p.enabled) {
                (None, true) => {
                    create(&txn, cloud, p).await?;
                    done.created += 1;
                }
                (None, false) => {}
                (Some(t), true) => {
                    if t.retired.is_some() {
                        set_retired(&txn, t.id, None).await?;
                        done.restored += 1;
                    }
                    if t.name != p.name {
                        rename(&txn, t.id, &p.name).await?;
                        done.renamed += 1;
                    }
                }
                (Some(t), false) => {
                    if t.retired.as_deref() != Some(PROJECT_DISABLED) {
                        unlinked |= retire(&txn, t.id, PROJECT_DISABLED).await?;
                        done.retired += 1;
                    }
                }
            }
        }
        let listed: std::collections::HashSet<&str> =
            projects.iter().map(|p| p.id.as_str()).collect();
        for t in &held {
            if !listed.contains(t.backend_id.as_str())
                && t.retired.as_deref() != Some(PROJECT_DELETED)
            {
                unlinked |= retire(&txn, t.id, PROJECT_DELETED).await?;
                done.retired += 1;
            }
        }
        if unlinked {
            super::read_index::touch(&txn, cloud).await?;
        }
        txn.commit().await?;
        if done != Discovered::default() {
            self.0.refresh_index().await;
        }
        Ok(done)
    }
}

async fn create(txn: &DatabaseTransaction, cloud: CloudId, p: &SeenProject) -> Result<(), DbErr> {
    let at = now();
    tenants::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        name: Set(p.name.clone()),
        backend_id: Set(p.id.clone()),
        cloud_id: Set(cloud),
        credentials: Set(None),
        state: Set(State::Ok),
        error_message: Set(String::new()),
        created: Set(at),
        modified: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

async fn rename(txn: &DatabaseTransaction, tenant: TenantId, name: &str) -> Result<(), DbErr> {
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Name, Expr::val(name))
        .col_expr(tenants::Column::Modified, Expr::val(now()))
        .filter(tenants::Column::Id.eq(tenant))
        .exec(txn)
        .await?;
    Ok(())
}

/// Marks the tenant retired for `reason` (ERRED, saying so), or back (`None`: OK, no message).
async fn set_retired(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    reason: Option<&str>,
) -> Result<(), DbErr> {
    let state = if reason.is_some() {
        State::Erred
    } else {
        State::Ok
    };
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Retired, Expr::val(reason))
        // Its links go (or it has none to come back to): its next view is compared.
        .col_expr(
            tenants::Column::ViewFingerprint,
            Expr::val(Option::<String>::None),
        )
        .col_expr(tenants::Column::State, Expr::val(state.as_str()))
        .col_expr(
            tenants::Column::ErrorMessage,
            Expr::val(reason.unwrap_or_default()),
        )
        .col_expr(tenants::Column::Modified, Expr::val(now()))
        .filter(tenants::Column::Id.eq(tenant))
        .exec(txn)
        .await?;
    Ok(())
}

/// Retires the tenant and unlinks it from every image; images of the cloud that no tenant
/// sees any more go. Returns whether links went.
async fn retire(txn: &DatabaseTransaction, tenant: TenantId, reason: &str) -> Result<bool, DbErr> {
    set_retired(txn, tenant, Some(reason)).await?;
    let linked: Vec<ImageId> = image_tenants::Entity::find()
        .select_only()
        .column(image_tenants::Column::ImageId)
        .filter(image_tenants::Column::TenantId.eq(tenant))
        .into_tuple()
        .all(txn)
        .await?;
    let (unlinked, _) = super::inventory::unlink(txn, tenant, &linked).await?;
    Ok(unlinked > 0)
}
