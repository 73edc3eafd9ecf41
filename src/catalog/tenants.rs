//! Tenants: OpenStack projects registered for syncing.
use entity::{service_settings, tenants};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::credentials::CredentialFields;
use super::paging::{PageRequest, Paged};
use super::settings::STATE_OK;
use super::{Visibility, now};
use crate::crypto::SecretBox;
use crate::error::{AppError, AppResult, Validator};

#[derive(Clone, Default)]
pub struct TenantInput {
    pub name: Option<String>,
    pub backend_id: Option<String>,
    pub service_settings: Option<Uuid>,
    pub user_username: Option<String>,
    pub user_password: Option<String>,
    pub application_credential_id: Option<String>,
    pub application_credential_name: Option<String>,
    pub application_credential_user: Option<String>,
    pub application_credential_secret: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct TenantFilter {
    pub settings_uuid: Option<Uuid>,
    /// Case-insensitive substring.
    pub name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct TenantView {
    pub tenant: tenants::Model,
    pub settings_uuid: Uuid,
}

pub async fn create(
    db: &DatabaseConnection,
    secret_box: &SecretBox,
    input: TenantInput,
) -> AppResult<TenantView> {
    let mut v = Validator::default();
    let name = v.require("name", &input.name).cloned();
    let backend_id = v.require("backend_id", &input.backend_id).cloned();
    let settings_uuid = v
        .require("service_settings", &input.service_settings)
        .copied();
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        v.add("name", "This field may not be blank.");
    }
    if backend_id.as_deref().is_some_and(|n| n.trim().is_empty()) {
        v.add("backend_id", "This field may not be blank.");
    }
    let fields = CredentialFields {
        username: ("user_username", input.user_username),
        password: ("user_password", input.user_password),
        project_name: None,
        project_id: None,
        app_id: ("application_credential_id", input.application_credential_id),
        app_name: (
            "application_credential_name",
            input.application_credential_name,
        ),
        app_user: (
            "application_credential_user",
            input.application_credential_user,
        ),
        app_secret: (
            "application_credential_secret",
            input.application_credential_secret,
        ),
    };
    // Own credentials are optional: without them the cloud's are scoped to this project.
    let credentials = if fields.is_empty() {
        None
    } else {
        fields.into_credentials(&mut v)
    };
    let settings = match settings_uuid {
        Some(uuid) => {
            let found = service_settings::Entity::find()
                .filter(service_settings::Column::Uuid.eq(uuid))
                .one(db)
                .await?;
            if found.is_none() {
                v.add(
                    "service_settings",
                    "Invalid hyperlink - Object does not exist.",
                );
            }
            found
        }
        None => None,
    };
    v.finish()?;
    let (Some(name), Some(backend_id), Some(settings)) = (name, backend_id, settings) else {
        return Err(AppError::field(
            "service_settings",
            "This field is required.",
        ));
    };
    let backend_id = backend_id.trim().to_string();
    let exists = tenants::Entity::find()
        .filter(tenants::Column::SettingsId.eq(settings.id))
        .filter(tenants::Column::BackendId.eq(backend_id.as_str()))
        .count(db)
        .await?;
    if exists > 0 {
        return Err(AppError::field(
            "backend_id",
            "A tenant with this backend_id is already registered for these service settings.",
        ));
    }
    let now = now();
    let tenant = tenants::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        name: Set(name.trim().to_string()),
        backend_id: Set(backend_id),
        settings_id: Set(settings.id),
        credentials: Set(credentials.map(|c| c.seal(secret_box))),
        state: Set(STATE_OK.to_string()),
        error_message: Set(String::new()),
        created: Set(now),
        modified: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(TenantView {
        tenant,
        settings_uuid: settings.uuid,
    })
}

fn visible(visibility: &Visibility) -> Condition {
    match visibility {
        Visibility::All => Condition::all(),
        Visibility::Tenants(ids) => {
            Condition::all().add(tenants::Column::Id.is_in(ids.iter().copied()))
        }
    }
}

pub async fn get(
    db: &DatabaseConnection,
    visibility: &Visibility,
    uuid: Uuid,
) -> AppResult<TenantView> {
    let (tenant, settings) = tenants::Entity::find()
        .filter(tenants::Column::Uuid.eq(uuid))
        .filter(visible(visibility))
        .find_also_related(service_settings::Entity)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let settings = settings.ok_or(AppError::NotFound)?;
    Ok(TenantView {
        tenant,
        settings_uuid: settings.uuid,
    })
}

pub async fn list(
    db: &DatabaseConnection,
    visibility: &Visibility,
    filter: &TenantFilter,
    page: PageRequest,
) -> AppResult<Paged<TenantView>> {
    let mut query = tenants::Entity::find().filter(visible(visibility));
    if let Some(uuid) = filter.settings_uuid {
        query = query.filter(
            tenants::Column::SettingsId.in_subquery(
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
    let page = page.resolve(total).map_err(|_| AppError::InvalidPage)?;
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
        .filter_map(|(tenant, settings)| {
            settings.map(|s| TenantView {
                tenant,
                settings_uuid: s.uuid,
            })
        })
        .collect();
    Ok(Paged { items, page })
}

/// Deletes a tenant; its links go with it (so the cloud's listing changes).
pub async fn delete(db: &DatabaseConnection, uuid: Uuid) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let Some(tenant) = tenants::Entity::find()
        .filter(tenants::Column::Uuid.eq(uuid))
        .one(&txn)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    tenants::Entity::delete_by_id(tenant.id).exec(&txn).await?;
    super::read_index::touch(&txn, tenant.settings_id).await?;
    txn.commit().await?;
    Ok(())
}

/// Records that a sync of the tenant was asked for; the sync engine picks it up.
pub async fn request_pull(db: &DatabaseConnection, uuid: Uuid) -> AppResult<TenantView> {
    let view = get(db, &Visibility::All, uuid).await?;
    let mut model: tenants::ActiveModel = view.tenant.clone().into();
    model.pull_requested_at = Set(Some(now()));
    let tenant = model.update(db).await?;
    Ok(TenantView { tenant, ..view })
}

/// Tenant database ids for uuids; an unknown uuid is a field error on `field`.
pub async fn ids_for(db: &DatabaseConnection, field: &str, uuids: &[Uuid]) -> AppResult<Vec<i32>> {
    let found: Vec<(i32, Uuid)> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .column(tenants::Column::Uuid)
        .filter(tenants::Column::Uuid.is_in(uuids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut v = Validator::default();
    for uuid in uuids {
        if !found.iter().any(|(_, u)| u == uuid) {
            v.add(
                field,
                format!("Tenant {} does not exist.", super::hex(uuid)),
            );
        }
    }
    v.finish()?;
    Ok(found.into_iter().map(|(id, _)| id).collect())
}
