//! Service settings: the registered OpenStack clouds.
use entity::{service_settings, tenants};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::credentials::CredentialFields;
use super::paging::{PageRequest, Paged};
use super::{Visibility, now};
use crate::crypto::SecretBox;
use crate::error::{AppError, AppResult, Validator};

pub const TYPE_OPENSTACK: &str = "OpenStack";
pub const STATE_OK: &str = "OK";
pub const INTERFACES: [&str; 3] = ["public", "internal", "admin"];

/// Fields of a create or update request; `None` means "not given".
#[derive(Clone, Default)]
pub struct SettingsInput {
    pub name: Option<String>,
    pub r#type: Option<String>,
    pub shared: Option<bool>,
    pub auth_url: Option<String>,
    pub region: Option<String>,
    pub interface: Option<String>,
    pub domain: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub application_credential_id: Option<String>,
    pub application_credential_name: Option<String>,
    pub application_credential_user: Option<String>,
    pub application_credential_secret: Option<String>,
}

impl SettingsInput {
    fn credential_fields(&self) -> CredentialFields<'static> {
        CredentialFields {
            username: ("username", self.username.clone()),
            password: ("password", self.password.clone()),
            project_name: self.project_name.clone(),
            project_id: self.project_id.clone(),
            app_id: (
                "application_credential_id",
                self.application_credential_id.clone(),
            ),
            app_name: (
                "application_credential_name",
                self.application_credential_name.clone(),
            ),
            app_user: (
                "application_credential_user",
                self.application_credential_user.clone(),
            ),
            app_secret: (
                "application_credential_secret",
                self.application_credential_secret.clone(),
            ),
        }
    }

    /// Checks the given fields; `creating` also requires the mandatory ones.
    fn validate(&self, v: &mut Validator, creating: bool) {
        if creating {
            v.require("name", &self.name);
            v.require("auth_url", &self.auth_url);
        }
        if let Some(name) = &self.name
            && name.trim().is_empty()
        {
            v.add("name", "This field may not be blank.");
        }
        if let Some(t) = &self.r#type
            && t != TYPE_OPENSTACK
        {
            v.add("type", format!("\"{t}\" is not a valid choice."));
        }
        if let Some(url) = &self.auth_url
            && !is_http_url(url)
        {
            v.add("auth_url", "Enter a valid URL.");
        }
        if let Some(i) = &self.interface
            && !INTERFACES.contains(&i.as_str())
        {
            v.add("interface", format!("\"{i}\" is not a valid choice."));
        }
    }
}

pub fn is_http_url(raw: &str) -> bool {
    url::Url::parse(raw)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .unwrap_or(false)
}

pub async fn create(
    db: &DatabaseConnection,
    secret_box: &SecretBox,
    input: SettingsInput,
) -> AppResult<service_settings::Model> {
    let mut v = Validator::default();
    input.validate(&mut v, true);
    let credentials = input.credential_fields().into_credentials(&mut v);
    v.finish()?;
    let credentials =
        credentials.ok_or_else(|| AppError::field("username", "This field is required."))?;
    let now = now();
    Ok(service_settings::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        name: Set(input.name.unwrap_or_default().trim().to_string()),
        r#type: Set(TYPE_OPENSTACK.to_string()),
        auth_url: Set(input.auth_url.unwrap_or_default()),
        region: Set(input.region.unwrap_or_default()),
        interface: Set(input.interface.unwrap_or_else(|| "public".into())),
        domain: Set(input.domain.unwrap_or_else(|| "default".into())),
        shared: Set(input.shared.unwrap_or(false)),
        credentials: Set(Some(credentials.seal(secret_box))),
        state: Set(STATE_OK.to_string()),
        error_message: Set(String::new()),
        created: Set(now),
        modified: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Applies the given fields. `full` (PUT) requires what create requires except credentials,
/// which are replaced only when given.
pub async fn update(
    db: &DatabaseConnection,
    secret_box: &SecretBox,
    uuid: Uuid,
    input: SettingsInput,
    full: bool,
) -> AppResult<service_settings::Model> {
    let current = find(db, uuid).await?;
    let mut v = Validator::default();
    input.validate(&mut v, full);
    let fields = input.credential_fields();
    let credentials = if fields.is_empty() {
        None
    } else {
        fields.into_credentials(&mut v)
    };
    v.finish()?;
    let mut model: service_settings::ActiveModel = current.into();
    if let Some(name) = input.name {
        model.name = Set(name.trim().to_string());
    }
    if let Some(x) = input.auth_url {
        model.auth_url = Set(x);
    }
    if let Some(x) = input.region {
        model.region = Set(x);
    }
    if let Some(x) = input.interface {
        model.interface = Set(x);
    }
    if let Some(x) = input.domain {
        model.domain = Set(x);
    }
    if let Some(x) = input.shared {
        model.shared = Set(x);
    }
    if let Some(c) = credentials {
        model.credentials = Set(Some(c.seal(secret_box)));
    }
    model.modified = Set(now());
    Ok(model.update(db).await?)
}

pub async fn find(db: &DatabaseConnection, uuid: Uuid) -> AppResult<service_settings::Model> {
    service_settings::Entity::find()
        .filter(service_settings::Column::Uuid.eq(uuid))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

fn visible(visibility: &Visibility) -> Condition {
    match visibility {
        Visibility::All => Condition::all(),
        Visibility::Tenants(ids) => Condition::all().add(
            service_settings::Column::Id.in_subquery(
                Query::select()
                    .column(tenants::Column::SettingsId)
                    .from(tenants::Entity)
                    .and_where(tenants::Column::Id.is_in(ids.iter().copied()))
                    .to_owned(),
            ),
        ),
    }
}

pub async fn get(
    db: &DatabaseConnection,
    visibility: &Visibility,
    uuid: Uuid,
) -> AppResult<service_settings::Model> {
    service_settings::Entity::find()
        .filter(service_settings::Column::Uuid.eq(uuid))
        .filter(visible(visibility))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn list(
    db: &DatabaseConnection,
    visibility: &Visibility,
    name: Option<&str>,
    page: PageRequest,
) -> AppResult<Paged<service_settings::Model>> {
    let mut query = service_settings::Entity::find().filter(visible(visibility));
    if let Some(name) = name {
        query = query.filter(service_settings::Column::Name.eq(name));
    }
    let total = query.clone().count(db).await?;
    let page = page.resolve(total).map_err(|_| AppError::InvalidPage)?;
    let items = query
        .order_by_asc(service_settings::Column::Name)
        .order_by_asc(service_settings::Column::Uuid)
        .offset(page.offset())
        .limit(page.size)
        .all(db)
        .await?;
    Ok(Paged { items, page })
}

pub async fn delete(db: &DatabaseConnection, uuid: Uuid) -> AppResult<()> {
    let res = service_settings::Entity::delete_many()
        .filter(service_settings::Column::Uuid.eq(uuid))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}
