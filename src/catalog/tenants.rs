//! Tenants: OpenStack projects registered for syncing.
use std::collections::HashMap;

use entity::{service_settings, tenants};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::credentials::Credentials;
use super::paging::{PageRequest, Paged};
use super::{Catalog, CatalogError, CatalogResult, CloudId, Scope, State, TenantId, now};

/// A registered tenant as stored (its own credentials, if any, sealed).
pub type Tenant = tenants::Model;

/// An upstream service a tenant's cloud lacks (no endpoint in its catalog). The sync goes on
/// without what it would give and says so on the tenant and the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MissingService {
    /// Nova: no instances are listed (those recorded stay as they were).
    Compute,
    /// Cinder: boot-from-volume servers count for no image.
    Volume,
}

impl MissingService {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compute => "compute",
            Self::Volume => "volume",
        }
    }

    /// The stored form: a JSON array of names.
    pub fn json(services: &[MissingService]) -> serde_json::Value {
        serde_json::Value::from(services.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    }
}

/// The stored list of missing services, as names (what the API shows).
pub fn unavailable_services(stored: &serde_json::Value) -> Vec<String> {
    stored
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A tenant to register, checked by the caller.
#[derive(Clone, Debug)]
pub struct NewTenant {
    pub name: String,
    /// The OpenStack project id.
    pub backend_id: String,
    pub cloud: CloudId,
    /// Own credentials; without them the cloud's are scoped to this project.
    pub credentials: Option<Credentials>,
}

#[derive(Clone, Debug, Default)]
pub struct TenantFilter {
    pub cloud: Option<Uuid>,
    /// Case-insensitive substring.
    pub name: Option<String>,
}

/// A tenant with its cloud's uuid.
#[derive(Clone, Debug)]
pub struct TenantView {
    pub tenant: Tenant,
    pub cloud_uuid: Uuid,
}

pub struct Tenants<'a>(pub(super) &'a Catalog);

impl Tenants<'_> {
    /// Registers a tenant. `Conflict` when its cloud already has the project.
    pub async fn create(&self, new: NewTenant) -> CatalogResult<TenantView> {
        let db = self.0.writer();
        let cloud = service_settings::Entity::find_by_id(new.cloud)
            .one(db)
            .await?
            .ok_or(CatalogError::NotFound)?;
        let exists = tenants::Entity::find()
            .filter(tenants::Column::CloudId.eq(cloud.id))
            .filter(tenants::Column::BackendId.eq(new.backend_id.as_str()))
            .count(db)
            .await?;
        if exists > 0 {
            return Err(CatalogError::Conflict(
                "the cloud already has a tenant for this project".into(),
            ));
        }
        let now = now();
        let tenant = tenants::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            name: Set(new.name),
            backend_id: Set(new.backend_id),
            cloud_id: Set(cloud.id),
            credentials: Set(new.credentials.map(|c| c.seal(&self.0.secrets))),
            state: Set(State::Ok),
            error_message: Set(String::new()),
            created: Set(now),
            modified: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        self.0.refresh_index().await;
        Ok(TenantView {
            tenant,
            cloud_uuid: cloud.uuid,
        })
    }

    /// The tenant with this uuid if it is in `scope`.
    pub async fn get(&self, scope: &Scope, uuid: Uuid) -> CatalogResult<TenantView> {
        let (tenant, cloud) = tenants::Entity::find()
            .filter(tenants::Column::Uuid.eq(uuid))
            .filter(in_scope(scope))
            .find_also_related(service_settings::Entity)
            .one(self.0.db())
            .await?
            .ok_or(CatalogError::NotFound)?;
        let cloud = cloud.ok_or(CatalogError::NotFound)?;
        Ok(TenantView {
            tenant,
            cloud_uuid: cloud.uuid,
        })
    }

    /// Tenants in `scope` that pass `filter`, by name then uuid.
    pub async fn list(
        &self,
        scope: &Scope,
        filter: &TenantFilter,
        page: PageRequest,
    ) -> CatalogResult<Paged<TenantView>> {
        let db = self.0.db();
        let mut query = tenants::Entity::find().filter(in_scope(scope));
        if let Some(uuid) = filter.cloud {
            query = query.filter(
                tenants::Column::CloudId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(service_settings::Column::Id)
                        .from(service_settings::Entity)
                        .and_where(service_settings::Column::Uuid.eq(uuid))
                        .to_owned(),
                ),
            );
        }
        if let Some(name) = &filter.name {
            query = query.filter(
                Expr::expr(Func::lower(Expr::col((
                    tenants::Entity,
                    tenants::Column::Name,
                ))))
                .like(super::like_contains(name)),
            );
        }
        let total = query.clone().count(db).await?;
        let page = page.resolve(total)?;
        let rows = query
            .find_also_related(service_settings::Entity)
            .order_by_asc(tenants::Column::Name)
            .order_by_asc(tenants::Column::Uuid)
            .offset(page.offset())
            .limit(page.size)
            .all(db)
            .await?;
        let items = rows
            .into_iter()
            .filter_map(|(tenant, cloud)| {
                cloud.map(|c| TenantView {
                    tenant,
                    cloud_uuid: c.uuid,
                })
            })
            .collect();
        Ok(Paged { items, page })
    }

    /// Deletes a tenant; its links go with it (so its cloud's listing changes).
    pub async fn delete(&self, uuid: Uuid) -> CatalogResult<()> {
        let txn = super::db::begin_write(self.0.writer()).await?;
        let Some(tenant) = tenants::Entity::find()
            .filter(tenants::Column::Uuid.eq(uuid))
            .one(&txn)
            .await?
        else {
            return Err(CatalogError::NotFound);
        };
        tenants::Entity::delete_by_id(tenant.id).exec(&txn).await?;
        super::read_index::touch(&txn, tenant.cloud_id).await?;
        super::read_index::touch_usage(&txn, tenant.cloud_id).await?;
        txn.commit().await?;
        self.0.refresh_index().await;
        Ok(())
    }

    /// The tenant with this uuid, whoever asks.
    pub async fn find(&self, uuid: Uuid) -> CatalogResult<Option<Tenant>> {
        Ok(tenants::Entity::find()
            .filter(tenants::Column::Uuid.eq(uuid))
            .one(self.0.db())
            .await?)
    }

    /// The ids of those of `uuids` that are registered.
    pub async fn ids_of(&self, uuids: &[Uuid]) -> CatalogResult<HashMap<Uuid, TenantId>> {
        let found: Vec<(TenantId, Uuid)> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::Uuid)
            .filter(tenants::Column::Uuid.is_in(uuids.iter().copied()))
            .into_tuple()
            .all(self.0.db())
            .await?;
        Ok(found.into_iter().map(|(id, uuid)| (uuid, id)).collect())
    }

    /// Every tenant's id (or those of `only`), in registration order.
    pub async fn ids(&self, only: Option<&[Uuid]>) -> CatalogResult<Vec<TenantId>> {
        let mut query = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .order_by_asc(tenants::Column::Id);
        if let Some(uuids) = only {
            query = query.filter(tenants::Column::Uuid.is_in(uuids.iter().copied()));
        }
        Ok(query.into_tuple().all(self.0.db()).await?)
    }

    /// These tenants (all when `None`) by cloud, in id order.
    pub async fn by_cloud(
        &self,
        only: Option<&[Uuid]>,
    ) -> CatalogResult<Vec<(CloudId, Vec<TenantId>)>> {
        // Retired tenants (see `discovery`) are not swept.
        let mut query = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::CloudId)
            .column(tenants::Column::Id)
            .filter(tenants::Column::Retired.is_null())
            .order_by_asc(tenants::Column::CloudId)
            .order_by_asc(tenants::Column::Id);
        if let Some(uuids) = only {
            query = query.filter(tenants::Column::Uuid.is_in(uuids.iter().copied()));
        }
        let rows: Vec<(CloudId, TenantId)> = query.into_tuple().all(self.0.db()).await?;
        let mut out: Vec<(CloudId, Vec<TenantId>)> = Vec::new();
        for (cloud, tenant) in rows {
            match out.last_mut() {
                Some((c, ids)) if *c == cloud => ids.push(tenant),
                _ => out.push((cloud, vec![tenant])),
            }
        }
        Ok(out)
    }

    /// The tenants a delta poll asks through their own login, with their cursors: live ones
    /// with a cursor, of clouds not listed whole (no cloud cursor) and not in cloud mode.
    pub async fn polled_own(&self) -> CatalogResult<Vec<(TenantId, serde_json::Value)>> {
        use entity::service_settings;
        let rows: Vec<(TenantId, Option<serde_json::Value>)> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::DeltaCursor)
            .inner_join(service_settings::Entity)
            .filter(tenants::Column::Retired.is_null())
            .filter(tenants::Column::DeltaCursor.is_not_null())
            .filter(service_settings::Column::DeltaCursor.is_null())
            .filter(service_settings::Column::SyncMode.ne(super::SyncMode::Cloud))
            .order_by_asc(tenants::Column::Id)
            .into_tuple()
            .all(self.0.writer())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, cursor)| Some((id, cursor?)))
            .collect())
    }

    /// A cloud's live (not retired) tenants with their projects, in id order.
    pub async fn live_of(&self, cloud: CloudId) -> CatalogResult<Vec<(TenantId, String)>> {
        Ok(tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::BackendId)
            .filter(tenants::Column::CloudId.eq(cloud))
            .filter(tenants::Column::Retired.is_null())
            .order_by_asc(tenants::Column::Id)
            .into_tuple()
            .all(self.0.writer())
            .await?)
    }

    /// A cloud's tenants, retired ones included, in id order.
    pub async fn of_cloud(&self, cloud: CloudId) -> CatalogResult<Vec<Tenant>> {
        Ok(tenants::Entity::find()
            .filter(tenants::Column::CloudId.eq(cloud))
            .order_by_asc(tenants::Column::Id)
            .all(self.0.writer())
            .await?)
    }

    /// The ids of a cloud's tenants; `NotFound` for an unknown cloud.
    pub async fn ids_in_cloud(&self, cloud: Uuid) -> CatalogResult<Vec<TenantId>> {
        let cloud = self
            .0
            .clouds()
            .find(cloud)
            .await?
            .ok_or(CatalogError::NotFound)?;
        Ok(tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .filter(tenants::Column::CloudId.eq(cloud.id))
            .order_by_asc(tenants::Column::Id)
            .into_tuple()
            .all(self.0.db())
            .await?)
    }
}

fn in_scope(scope: &Scope) -> Condition {
    match scope {
        Scope::All => Condition::all(),
        Scope::Tenants(ids) => Condition::all().add(tenants::Column::Id.is_in(ids.iter().copied())),
    }
}
