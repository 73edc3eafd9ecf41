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
use super::{
    Catalog, CatalogError, CatalogResult, CloudId, Interface, Scope, State, SyncMode, now,
};
use crate::crypto::CryptoError;
use crate::openstack::tls::{ClientIdentity, TlsConfig};

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
    pub sync_mode: SyncMode,
    pub discover_tenants: bool,
    /// Tags a project needs (all of them) to be discovered.
    pub project_tags: Vec<String>,
    /// CA bundle, verification, client certificate (its key is sealed when stored).
    pub tls: TlsConfig,
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
            sync_mode: SyncMode::Auto,
            discover_tenants: false,
            project_tags: Vec::new(),
            tls: TlsConfig::default(),
        }
    }
}

/// What one sweep of a cloud did, kept on the cloud as JSON (the API shows it as is).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SweepRecord {
    /// `per_tenant` or `cloud`.
    pub mode: &'static str,
    /// Why: `sync_mode`, `admin_role`, `no_admin_role` or `login_failed`.
    pub mode_reason: &'static str,
    /// Why, in words (whose login failed and how, never a secret).
    pub mode_detail: String,
    pub started: chrono::DateTime<chrono::Utc>,
    pub finished: chrono::DateTime<chrono::Utc>,
    /// Tenants synced.
    pub tenants: u64,
    /// Of those, the ones whose view of a whole-cloud listing was what their last sync
    /// applied: recorded without a compare.
    pub unchanged: u64,
    /// Upstream requests by service.
    pub requests: std::collections::BTreeMap<String, u64>,
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
    pub sync_mode: Option<SyncMode>,
    pub discover_tenants: Option<bool>,
    pub project_tags: Option<Vec<String>>,
    /// The cloud's whole TLS configuration (the caller completes a partial change).
    pub tls: Option<TlsConfig>,
}

/// The TLS columns of a cloud row: the key sealed, never stored in the clear.
struct TlsColumns {
    cacert: Option<String>,
    verify: bool,
    cert: Option<String>,
    key: Option<String>,
}

impl TlsColumns {
    fn seal(tls: &TlsConfig, secrets: &crate::crypto::SecretBox) -> Self {
        Self {
            cacert: tls.cacert.clone(),
            verify: tls.verify,
            cert: tls.client.as_ref().map(|c| c.cert.clone()),
            key: tls.client.as_ref().map(|c| secrets.seal(c.key.as_bytes())),
        }
    }
}

pub struct Clouds<'a>(pub(super) &'a Catalog);

impl Clouds<'_> {
    pub async fn create(&self, new: NewCloud) -> CatalogResult<Cloud> {
        let now = now();
        let tls = TlsColumns::seal(&new.tls, &self.0.secrets);
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
            sync_mode: Set(new.sync_mode),
            discover_tenants: Set(new.discover_tenants),
            project_tags: Set(serde_json::json!(new.project_tags)),
            tls_cacert: Set(tls.cacert),
            tls_verify: Set(tls.verify),
            tls_cert: Set(tls.cert),
            tls_key: Set(tls.key),
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
        if let Some(x) = changes.sync_mode {
            model.sync_mode = Set(x);
        }
        if let Some(x) = changes.discover_tenants {
            model.discover_tenants = Set(x);
        }
        if let Some(x) = changes.project_tags {
            model.project_tags = Set(serde_json::json!(x));
        }
        if let Some(c) = changes.credentials {
            model.credentials = Set(Some(c.seal(&self.0.secrets)));
        }
        if let Some(tls) = changes.tls {
            let tls = TlsColumns::seal(&tls, &self.0.secrets);
            model.tls_cacert = Set(tls.cacert);
            model.tls_verify = Set(tls.verify);
            model.tls_cert = Set(tls.cert);
            model.tls_key = Set(tls.key);
        }
        model.modified = Set(now());
        Ok(model.update(self.0.writer()).await?)
    }

    /// The cloud with this id and its own credentials opened (`None` when it has none).
    pub async fn with_credentials(
        &self,
        id: CloudId,
    ) -> CatalogResult<(Cloud, Option<Credentials>)> {
        let cloud = service_settings::Entity::find_by_id(id)
            .one(self.0.writer())
            .await?
            .ok_or(CatalogError::NotFound)?;
        let credentials = self.open_credentials(&cloud)?;
        Ok((cloud, credentials))
    }

    /// The cloud's own credentials, opened (`None` when it has none); a changed key is an
    /// error.
    pub async fn stored_credentials(&self, uuid: Uuid) -> CatalogResult<Option<Credentials>> {
        let cloud = self.find(uuid).await?.ok_or(CatalogError::NotFound)?;
        self.open_credentials(&cloud)
    }

    /// The cloud's TLS configuration for a change to complete; a client key that cannot be
    /// opened (another key) is left out with its certificate.
    pub async fn stored_tls(&self, uuid: Uuid) -> CatalogResult<TlsConfig> {
        let cloud = self.find(uuid).await?.ok_or(CatalogError::NotFound)?;
        Ok(self
            .tls(&cloud)
            .unwrap_or_else(|_| tls_without_client(&cloud)))
    }

    /// How sessions reach the cloud over TLS, its client key opened; a changed key is an
    /// error. (A certificate whose key is missing is left out: the pair is stored together.)
    pub fn tls(&self, cloud: &Cloud) -> Result<TlsConfig, CryptoError> {
        let client = match (&cloud.tls_cert, &cloud.tls_key) {
            (Some(cert), Some(sealed)) => {
                let key = String::from_utf8(self.0.secrets.open(sealed)?)
                    .map_err(|_| CryptoError::Undecryptable)?;
                Some(ClientIdentity {
                    cert: cert.clone(),
                    key,
                })
            }
            _ => None,
        };
        Ok(TlsConfig {
            client,
            ..tls_without_client(cloud)
        })
    }

    fn open_credentials(&self, cloud: &Cloud) -> CatalogResult<Option<Credentials>> {
        Ok(cloud
            .credentials
            .as_deref()
            .map(|sealed| Credentials::open(&self.0.secrets, sealed))
            .transpose()?)
    }

    /// The clouds that discover their tenants.
    pub async fn discovering(&self) -> CatalogResult<Vec<CloudId>> {
        Ok(service_settings::Entity::find()
            .select_only()
            .column(service_settings::Column::Id)
            .filter(service_settings::Column::DiscoverTenants.eq(true))
            .into_tuple()
            .all(self.0.db())
            .await?)
    }

    /// Records how a sweep found the cloud: ERRED with what is wrong, or OK.
    pub async fn record_state(&self, id: CloudId, problem: Option<&str>) -> CatalogResult<()> {
        let message = problem.map(String::from);
        let state = if message.is_some() {
            State::Erred
        } else {
            State::Ok
        };
        service_settings::Entity::update_many()
            .col_expr(
                service_settings::Column::State,
                sea_orm::sea_query::Expr::val(state.as_str()),
            )
            .col_expr(
                service_settings::Column::ErrorMessage,
                sea_orm::sea_query::Expr::val(message.unwrap_or_default()),
            )
            .filter(service_settings::Column::Id.eq(id))
            .exec(self.0.writer())
            .await?;
        Ok(())
    }

    /// Sets where the cloud's next delta poll starts (`None`: no delta polls until a
    /// whole-cloud listing sets it again).
    pub async fn set_delta_cursor(
        &self,
        id: CloudId,
        cursor: Option<serde_json::Value>,
    ) -> CatalogResult<()> {
        service_settings::Entity::update_many()
            .col_expr(
                service_settings::Column::DeltaCursor,
                sea_orm::sea_query::Expr::val(cursor),
            )
            .filter(service_settings::Column::Id.eq(id))
            .exec(self.0.writer())
            .await?;
        Ok(())
    }

    /// Where the cloud's next delta poll starts: what its last whole-cloud listing showed.
    pub async fn delta_cursor(&self, id: CloudId) -> CatalogResult<Option<serde_json::Value>> {
        let cursor: Option<Option<serde_json::Value>> = service_settings::Entity::find_by_id(id)
            .select_only()
            .column(service_settings::Column::DeltaCursor)
            .into_tuple()
            .one(self.0.writer())
            .await?;
        Ok(cursor.flatten())
    }

    /// The clouds a delta poll can start from: with a cursor, not in per-tenant mode.
    pub async fn polled(&self) -> CatalogResult<Vec<Cloud>> {
        Ok(service_settings::Entity::find()
            .filter(service_settings::Column::DeltaCursor.is_not_null())
            .filter(service_settings::Column::SyncMode.ne(SyncMode::PerTenant))
            .all(self.0.writer())
            .await?)
    }

    /// Keeps what the last sweep of the cloud did (shown as its `last_sweep`).
    pub async fn record_sweep(&self, id: CloudId, record: &SweepRecord) -> CatalogResult<()> {
        service_settings::Entity::update_many()
            .col_expr(
                service_settings::Column::LastSweep,
                sea_orm::sea_query::Expr::val(serde_json::json!(record)),
            )
            .filter(service_settings::Column::Id.eq(id))
            .exec(self.0.writer())
            .await?;
        Ok(())
    }

    /// The clouds of this exact name (names are not unique), by id.
    pub async fn named(&self, name: &str) -> CatalogResult<Vec<Cloud>> {
        Ok(service_settings::Entity::find()
            .filter(service_settings::Column::Name.eq(name))
            .order_by_asc(service_settings::Column::Id)
            .all(self.0.writer())
            .await?)
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

    /// Every cloud's name, by id (what sweeps name clouds by in their log lines).
    pub async fn names(&self) -> CatalogResult<std::collections::HashMap<CloudId, String>> {
        let rows: Vec<(CloudId, String)> = service_settings::Entity::find()
            .select_only()
            .column(service_settings::Column::Id)
            .column(service_settings::Column::Name)
            .into_tuple()
            .all(self.0.db())
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// The names of the clouds whose name starts with `prefix`.
    pub async fn names_like(&self, prefix: &str) -> CatalogResult<Vec<String>> {
        Ok(service_settings::Entity::find()
            .select_only()
            .column(service_settings::Column::Name)
            .filter(service_settings::Column::Name.starts_with(prefix))
            .order_by_asc(service_settings::Column::Name)
            .into_tuple()
            .all(self.0.db())
            .await?)
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

fn tls_without_client(cloud: &Cloud) -> TlsConfig {
    TlsConfig {
        cacert: cloud.tls_cacert.clone(),
        verify: cloud.tls_verify,
        client: None,
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
