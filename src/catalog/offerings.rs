//! Offerings: a named scope (one cloud or one tenant) that Waldur's `offering_uuid` filter uses.
use entity::{offerings, service_settings, tenants};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::now;
use super::paging::{PageRequest, Paged};
use crate::error::{AppError, AppResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferingScope {
    Tenant(i32),
    Settings { id: i32, has_tenants: bool },
}

/// The scope of an offering, or `None` when no such offering exists.
pub async fn scope_of(db: &DatabaseConnection, uuid: Uuid) -> AppResult<Option<OfferingScope>> {
    let Some(offering) = offerings::Entity::find()
        .filter(offerings::Column::Uuid.eq(uuid))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(match (offering.tenant_id, offering.settings_id) {
        (Some(tenant), _) => Some(OfferingScope::Tenant(tenant)),
        (None, Some(id)) => {
            let has_tenants = tenants::Entity::find()
                .filter(tenants::Column::SettingsId.eq(id))
                .count(db)
                .await?
                > 0;
            Some(OfferingScope::Settings { id, has_tenants })
        }
        (None, None) => None,
    })
}

/// An offering with its scope as uuids, for the API.
#[derive(Clone, Debug)]
pub struct OfferingView {
    pub offering: offerings::Model,
    pub settings_uuid: Option<Uuid>,
    pub tenant_uuid: Option<Uuid>,
}

#[derive(Clone, Copy, Debug)]
pub enum ScopeRef {
    Settings(Uuid),
    Tenant(Uuid),
}

pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    scope: ScopeRef,
) -> AppResult<OfferingView> {
    let (settings_id, tenant_id) = match scope {
        ScopeRef::Settings(uuid) => {
            let s = service_settings::Entity::find()
                .filter(service_settings::Column::Uuid.eq(uuid))
                .one(db)
                .await?
                .ok_or_else(|| AppError::field("scope", "Object does not exist."))?;
            (Some(s.id), None)
        }
        ScopeRef::Tenant(uuid) => {
            let t = tenants::Entity::find()
                .filter(tenants::Column::Uuid.eq(uuid))
                .one(db)
                .await?
                .ok_or_else(|| AppError::field("scope", "Object does not exist."))?;
            (None, Some(t.id))
        }
    };
    let model = offerings::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        name: Set(name.to_string()),
        settings_id: Set(settings_id),
        tenant_id: Set(tenant_id),
        created: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    view(db, model).await
}

pub async fn get(db: &DatabaseConnection, uuid: Uuid) -> AppResult<OfferingView> {
    let model = offerings::Entity::find()
        .filter(offerings::Column::Uuid.eq(uuid))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    view(db, model).await
}

pub async fn list(db: &DatabaseConnection, page: PageRequest) -> AppResult<Paged<OfferingView>> {
    let total = offerings::Entity::find().count(db).await?;
    let page = page.resolve(total).map_err(|_| AppError::InvalidPage)?;
    let models = offerings::Entity::find()
        .order_by_asc(offerings::Column::Name)
        .order_by_asc(offerings::Column::Uuid)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?;
    let mut items = Vec::with_capacity(models.len());
    for m in models {
        items.push(view(db, m).await?);
    }
    Ok(Paged { items, page })
}

pub async fn delete(db: &DatabaseConnection, uuid: Uuid) -> AppResult<()> {
    let res = offerings::Entity::delete_many()
        .filter(offerings::Column::Uuid.eq(uuid))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

async fn view(db: &DatabaseConnection, offering: offerings::Model) -> AppResult<OfferingView> {
    let settings_uuid = match offering.settings_id {
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
        settings_uuid,
        tenant_uuid,
    })
}
