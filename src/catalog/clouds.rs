//! Clouds: the registered OpenStack clouds (Waldur's "service settings").
use entity::{service_settings, tenants};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::credentials::Credentials;
use super::paging::{PageRequest, Paged};
use super::{Catalog, CatalogError, CatalogResult, Interface, Scope, State, now};

/// A registered cloud as stored (its credentials sealed).
pub type Cloud = service_settings::Model;

/// The only kind of cloud there is.
pub const CLOUD_TYPE: &str = "OpenStack";

/// A cloud to register, checked by the caller.
#[derive(Clone, Debug)]
pub struct NewCloud {
    pub name: String,
    pub auth_url: String,
    pub region: String,
    pub interface: Interface,
    pub domain: String,
    pub shared: bool,
    pub credentials: Credentials,
}

impl NewCloud {
    /// A cloud reached with a user and password, with the defaults of the API (public
    /// endpoints, the `default` domain, any region, not shared).
    pub fn with_password(name: &str, auth_url: &str, username: &str, password: &str) -> Self {
        Self {
            name: name.into(),
            auth_url: auth_url.into(),
            region: String::new(),
            interface: Interface::Public,
            domain: "default".into(),
            shared: false,
            credentials: Credentials::Password {
                username: username.into(),
                password: password.into(),
                project_name: None,
                project_id: None,
            },
        }
    }
}

/// Changes to a cloud; `None` leaves a property as it is.
#[derive(Clone, Debug, Default)]
pub struct CloudChanges {
    pub name: Option<String>,
    pub auth_url: Option<String>,
    pub region: Option<String>,
    pub interface: Option<Interface>,
    pub domain: Option<String>,
    pub shared: Option<bool>,
    pub credentials: Option<Credentials>,
}

pub struct Clouds<'a>(pub(super) &'a Catalog);

impl Clouds<'_> {
    pub async fn create(&self, new: NewCloud) -> CatalogResult<Cloud> {
        let now = now();
        let cloud = service_settings::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            name: Set(new.name),
            r#type: Set(CLOUD_TYPE.to_string()),
            auth_url: Set(new.auth_url),
            region: Set(new.region),
            interface: Set(new.interface),
            domain: Set(new.domain),
            shared: Set(new.shared),
            credentials: Set(Some(new.credentials.seal(&self.0.secrets))),
            state: Set(State::Ok),
            error_message: Set(String::new()),
            created: Set(now),
            modified: Set(now),
            ..Default::default()
        }
        .insert(self.0.writer())
        .await?;
        self.0.refresh_index().await;
        Ok(cloud)
    }

    pub async fn update(&self, uuid: Uuid, changes: CloudChanges) -> CatalogResult<Cloud> {
        let current = self.find(uuid).await?.ok_or(CatalogError::NotFound)?;
        let mut model: service_settings::ActiveModel = current.into();
        if let Some(x) = changes.name {
            model.name = Set(x);
        }
        if let Some(x) = changes.auth_url {
            model.auth_url = Set(x);
        }
        if let Some(x) = changes.region {
            model.region = Set(x);
        }
        if let Some(x) = changes.interface {
            model.interface = Set(x);
        }
        if let Some(x) = changes.domain {
            model.domain = Set(x);
        }
        if let Some(x) = changes.shared {
            model.shared = Set(x);
        }
        if let Some(c) = changes.credentials {
            model.credentials = Set(Some(c.seal(&self.0.secrets)));
        }
        model.modified = Set(now());
        Ok(model.update(self.0.writer()).await?)
    }

    /// The cloud with this uuid, whoever asks.
    pub async fn find(&self, uuid: Uuid) -> CatalogResult<Option<Cloud>> {
        Ok(service_settings::Entity::find()
            .filter(service_settings::Column::Uuid.eq(uuid))
            .one(self.0.db())
            .await?)
    }

    /// The cloud with this uuid if it is in `scope`.
    pub async fn get(&self, scope: &Scope, uuid: Uuid) -> CatalogResult<Cloud> {
        service_settings::Entity::find()
            .filter(service_settings::Column::Uuid.eq(uuid))
            .filter(in_scope(scope))
            .one(self.0.db())
            .await?
            .ok_or(CatalogError::NotFound)
    }

    /// Clouds in `scope`, optionally of one exact name, by name then uuid.
    pub async fn list(
        &self,
        scope: &Scope,
        name: Option<&str>,
        page: PageRequest,
    ) -> CatalogResult<Paged<Cloud>> {
        let mut query = service_settings::Entity::find().filter(in_scope(scope));
        if let Some(name) = name {
            query = query.filter(service_settings::Column::Name.eq(name));
        }
        let total = query.clone().count(self.0.db()).await?;
        let page = page.resolve(total)?;
        let items = query
            .order_by_asc(service_settings::Column::Name)
            .order_by_asc(service_settings::Column::Uuid)
            .offset(page.offset())
            .limit(page.size)
            .all(self.0.db())
            .await?;
        Ok(Paged { items, page })
    }

    /// Removes a cloud with its tenants, images and instances.
    pub async fn delete(&self, uuid: Uuid) -> CatalogResult<()> {
        let res = service_settings::Entity::delete_many()
            .filter(service_settings::Column::Uuid.eq(uuid))
            .exec(self.0.writer())
            .await?;
        if res.rows_affected == 0 {
            return Err(CatalogError::NotFound);
        }
        self.0.refresh_index().await;
        Ok(())
    }

    /// Removes every cloud whose name starts with `prefix` (the demo replaces its own).
    pub async fn delete_named_like(&self, prefix: &str) -> CatalogResult<u64> {
        let res = service_settings::Entity::delete_many()
            .filter(service_settings::Column::Name.starts_with(prefix))
            .exec(self.0.writer())
            .await?;
        self.0.refresh_index().await;
        Ok(res.rows_affected)
    }
}

fn in_scope(scope: &Scope) -> Condition {
    match scope {
        Scope::All => Condition::all(),
        Scope::Tenants(ids) => Condition::all().add(
            service_settings::Column::Id.in_subquery(
                Query::select()
                    .column(tenants::Column::CloudId)
                    .from(tenants::Entity)
                    .and_where(tenants::Column::Id.is_in(ids.iter().copied()))
                    .to_owned(),
            ),
        ),
    }
}
