//! Offerings: a named scope (one cloud or one tenant) that Waldur's `offering_uuid` filter uses.
use entity::{offerings, service_settings, tenants};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::paging::{PageRequest, Paged};
use super::{Catalog, CatalogError, CatalogResult, CloudId, TenantId, now};

/// An offering as stored.
pub type Offering = offerings::Model;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferingScope {
    Tenant(TenantId),
    Cloud { id: CloudId, has_tenants: bool },
}

pub struct Offerings<'a>(pub(super) &'a Catalog);

/// An offering with its scope as uuids, for the API.
#[derive(Clone, Debug)]
pub struct OfferingView {
    pub offering: Offering,
    pub cloud_uuid: Option<Uuid>,
    pub tenant_uuid: Option<Uuid>,
}

#[derive(Clone, Copy, Debug)]
pub enum ScopeRef {
    Cloud(Uuid),
    Tenant(Uuid),
}

impl Offerings<'_> {
    /// The scope of an offering, or `None` when no such offering exists.
    pub async fn scope_of(&self, uuid: Uuid) -> CatalogResult<Option<OfferingScope>> {
        let db = self.0.db();
        let Some(offering) = offerings::Entity::find()
            .filter(offerings::Column::Uuid.eq(uuid))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        Ok(match (offering.tenant_id, offering.cloud_id) {
            (Some(tenant), _) => Some(OfferingScope::Tenant(tenant)),
            (None, Some(id)) => {
                let has_tenants = tenants::Entity::find()
                    .filter(tenants::Column::CloudId.eq(id))
                    .count(db)
                    .await?
                    > 0;
                Some(OfferingScope::Cloud { id, has_tenants })
            }
            (None, None) => None,
        })
    }

    /// Creates an offering; `NotFound` when its scope does not exist.
    pub async fn create(&self, name: &str, scope: ScopeRef) -> CatalogResult<OfferingView> {
        let db = self.0.writer();
        let (cloud_id, tenant_id) = match scope {
            ScopeRef::Cloud(uuid) => {
                let s = service_settings::Entity::find()
                    .filter(service_settings::Column::Uuid.eq(uuid))
                    .one(db)
                    .await?
                    .ok_or(CatalogError::NotFound)?;
                (Some(s.id), None)
            }
            ScopeRef::Tenant(uuid) => {
                let t = tenants::Entity::find()
                    .filter(tenants::Column::Uuid.eq(uuid))
                    .one(db)
                    .await?
                    .ok_or(CatalogError::NotFound)?;
                (None, Some(t.id))
            }
        };
        let model = offerings::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            name: Set(name.to_string()),
            cloud_id: Set(cloud_id),
            tenant_id: Set(tenant_id),
            created: Set(now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        self.view(model).await
    }

    pub async fn get(&self, uuid: Uuid) -> CatalogResult<OfferingView> {
        let db = self.0.db();
        let model = offerings::Entity::find()
            .filter(offerings::Column::Uuid.eq(uuid))
            .one(db)
            .await?
            .ok_or(CatalogError::NotFound)?;
        self.view(model).await
    }

    pub async fn list(&self, page: PageRequest) -> CatalogResult<Paged<OfferingView>> {
        let db = self.0.db();
        let total = offerings::Entity::find().count(db).await?;
        let page = page.resolve(total)?;
        let models = offerings::Entity::find()
            .order_by_asc(offerings::Column::Name)
            .order_by_asc(offerings::Column::Uuid)
            .offset(page.offset())
            .limit(page.size)
            .all(db)
            .await?;
        let mut items = Vec::with_capacity(models.len());
        for m in models {
            items.push(self.view(m).await?);
        }
        Ok(Paged { items, page })
    }

    pub async fn delete(&self, uuid: Uuid) -> CatalogResult<()> {
        let db = self.0.writer();
        let res = offerings::Entity::delete_many()
            .filter(offerings::Column::Uuid.eq(uuid))
            .exec(db)
            .await?;
        if res.rows_affected == 0 {
            return Err(CatalogError::NotFound);
        }
        Ok(())
    }

    async fn view(&self, offering: Offering) -> CatalogResult<OfferingView> {
        let db = self.0.db();
        let cloud_uuid = match offering.cloud_id {
            Some(id) => service_settings::Entity::find_by_id(id)
                .one(db)
                .await?
                .map(|s| s.uuid),
            None => None,
        };
        let tenant_uuid = match offering.tenant_id {
            Some(id) => tenants::Entity::find_by_id(id)
                .one(db)
                .await?
                .map(|t| t.uuid),
            None => None,
        };
        Ok(OfferingView {
            offering,
            cloud_uuid,
            tenant_uuid,
        })
    }
}
