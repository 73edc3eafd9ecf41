//! An authenticated session with one cloud for one project: token cache, endpoint lookup,
//! and GETs that re-authenticate once on a 401.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::error::{OpenStackError, Service, summarize_body};
use super::keystone::{self, AuthMethod, CatalogEntry, LoginName, TokenResponse};
use super::retry::{self, RetryPolicy};
use super::tls::{self, TlsConfig};
use super::without_lone_surrogates;

/// Tokens are renewed this long before Keystone says they expire.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// Timeouts and retries, the same for every session of a process.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

impl SessionSettings {
    /// These settings for a person waiting at a terminal or on an API call (a check, an
    /// import): one retry, not a sweep's patience.
    pub fn impatient(&self) -> Self {
        let mut settings = self.clone();
        settings.retry.max_attempts = settings.retry.max_attempts.min(2);
        settings
    }
}

/// Where and how one session logs in.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub auth_url: String,
    /// The endpoint interface of the service catalog: `public`, `internal` or `admin`.
    pub interface: String,
    pub region: String,
    pub auth: AuthMethod,
    pub settings: SessionSettings,
    /// The cloud's CA bundle, verification and client certificate.
    pub tls: TlsConfig,
}

/// A token younger than this that is refused may share its second with a revocation.
const FRESH_TOKEN: std::time::Duration = std::time::Duration::from_millis(1100);

struct Token {
    value: String,
    obtained: std::time::Instant,
    expires_at: DateTime<Utc>,
    catalog: Vec<CatalogEntry>,
    scope: TokenScope,
}

/// What a token is scoped to: its project and roles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenScope {
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    /// The project's domain, by name when Keystone tells it, else by id.
    pub project_domain: Option<String>,
    /// The token's role names, as Keystone lists them.
    pub roles: Vec<String>,
    /// Listings of an admin token show the whole cloud, not just the project's share of it.
    pub admin: bool,
}

pub struct Session {
    client: reqwest::Client,
    cfg: SessionConfig,
    token: Mutex<Option<Arc<Token>>>,
    /// HTTP requests sent, per service in [`Service::ALL`]'s order (logins and retries
    /// included): what one sync costs the cloud, so cloud-wide and per-tenant listings can be
    /// compared.
    sent: [AtomicU64; 4],
}

impl Session {
    pub fn new(cfg: SessionConfig) -> Result<Self, OpenStackError> {
        let client = tls::client(&cfg.settings, &cfg.tls)?;
        Ok(Self {
            client,
            cfg,
            token: Mutex::new(None),
            sent: Default::default(),
        })
    }

    /// A request to `service`, counted: every request the session sends is built here, once
    /// per attempt.
    fn request(&self, service: Service, method: reqwest::Method, url: &str) -> RequestBuilder {
        self.sent[service.index()].fetch_add(1, Ordering::Relaxed);
        self.client
            .request(method, url)
            .header("Accept", "application/json")
    }

    /// HTTP requests sent so far, per service kind (`identity`, `image`, `compute`,
    /// `volume`; zero for those not used), logins and retries included.
    pub fn requests(&self) -> BTreeMap<&'static str, u64> {
        Service::ALL
            .iter()
            .map(|s| (s.kind(), self.sent[s.index()].load(Ordering::Relaxed)))
            .collect()
    }

    async fn authenticate(&self) -> Result<Arc<Token>, OpenStackError> {
        let url = keystone::tokens_url(&self.cfg.auth_url);
        let body = keystone::auth_body(&self.cfg.auth);
        let resp = retry::send(
            Service::Keystone,
            &self.cfg.settings.retry,
            self.cfg.settings.timeout,
            || {
                self.request(Service::Keystone, reqwest::Method::POST, &url)
                    .json(&body)
            },
        )
        .await?;
        let status = resp.status;
        let subject = resp
            .headers
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp.text;
        match status {
            StatusCode::CREATED | StatusCode::OK => {}
            StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::BAD_REQUEST => {
                return Err(OpenStackError::AuthFailed {
                    login: self.cfg.auth.login_name(),
                    reason: format!("HTTP {}: {}", status.as_u16(), summarize_body(&text)),
                });
            }
            _ => {
                return Err(OpenStackError::UpstreamStatus {
                    service: Service::Keystone,
                    status: status.as_u16(),
                    message: summarize_body(&text),
                });
            }
        }
        let value = subject.ok_or_else(|| OpenStackError::MalformedBody {
            service: Service::Keystone,
            detail: "no X-Subject-Token header".into(),
        })?;
        let parsed: TokenResponse =
            serde_json::from_str(&without_lone_surrogates(&text)).map_err(|e| {
                OpenStackError::MalformedBody {
                    service: Service::Keystone,
                    detail: e.to_string(),
                }
            })?;
        let project = parsed.token.project.as_ref();
        let scope = TokenScope {
            project_id: project.map(|p| p.id.clone()),
            project_name: project.and_then(|p| p.name.clone()),
            project_domain: project
                .and_then(|p| p.domain.as_ref())
                .and_then(|d| d.name.clone().or_else(|| d.id.clone())),
            roles: parsed.token.roles.iter().map(|r| r.name.clone()).collect(),
            admin: parsed.token.is_admin(),
        };
        Ok(Arc::new(Token {
            value,
            obtained: std::time::Instant::now(),
            expires_at: parsed.token.expires_at,
            catalog: parsed.token.catalog,
            scope,
        }))
    }

    async fn token(&self) -> Result<Arc<Token>, OpenStackError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && t.expires_at - EXPIRY_MARGIN > Utc::now()
        {
            return Ok(t.clone());
        }
        let fresh = self.authenticate().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    async fn invalidate(&self, stale: &Arc<Token>) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| Arc::ptr_eq(t, stale)) {
            *cached = None;
        }
    }

    /// The configured Keystone URL: the identity endpoint a session reaches before it has a
    /// catalog, and the one its token is valid with.
    pub fn auth_url(&self) -> &str {
        &self.cfg.auth_url
    }

    /// Whose login the session uses, without the secret.
    pub fn login_name(&self) -> LoginName {
        self.cfg.auth.login_name()
    }

    /// Logs in (or reuses the cached token) and checks the credentials work.
    pub async fn login(&self) -> Result<(), OpenStackError> {
        self.token().await.map(|_| ())
    }

    /// The project and roles of the current token.
    pub async fn scope(&self) -> Result<TokenScope, OpenStackError> {
        Ok(self.token().await?.scope.clone())
    }

    /// The catalog URL of a service type (`image`, `compute`), without a trailing slash.
    pub async fn endpoint(&self, service_type: &str) -> Result<String, OpenStackError> {
        let token = self.token().await?;
        keystone::find_endpoint(
            &token.catalog,
            service_type,
            &self.cfg.interface,
            &self.cfg.region,
        )
    }

    /// The service of `service_type` behind the endpoint this session uses (its id and
    /// region, as unified limits name it); `None` when the catalog does not say.
    pub async fn service(
        &self,
        service_type: &str,
    ) -> Result<Option<keystone::ServiceRef>, OpenStackError> {
        let token = self.token().await?;
        Ok(keystone::find_service(
            &token.catalog,
            service_type,
            &self.cfg.interface,
            &self.cfg.region,
        ))
    }

    /// The catalog URL of the first of `service_types` the token's catalog has (for this
    /// session's interface and region), with the type that matched; `None` when it has none.
    /// For optional services, whose absence is a fact about the cloud rather than a failure.
    pub async fn first_endpoint(
        &self,
        service_types: &[&str],
    ) -> Result<Option<(String, String)>, OpenStackError> {
        let token = self.token().await?;
        Ok(keystone::find_first_endpoint(
            &token.catalog,
            service_types,
            &self.cfg.interface,
            &self.cfg.region,
        ))
    }

    /// GET a JSON document. `Ok(None)` for the statuses listed in `absent` (e.g. 404 from an
    /// older cloud). A 401 renews the token and retries once.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        service: Service,
        url: &str,
        absent: &[u16],
    ) -> Result<Option<T>, OpenStackError> {
        self.get_json_with(service, url, absent, &[]).await
    }

    /// [`Self::get_json`] with extra request headers (a microversion, say).
    pub async fn get_json_with<T: DeserializeOwned>(
        &self,
        service: Service,
        url: &str,
        absent: &[u16],
        headers: &[(&str, String)],
    ) -> Result<Option<T>, OpenStackError> {
        let mut reauthenticated = false;
        loop {
            let token = self.token().await?;
            let resp = retry::send(
                service,
                &self.cfg.settings.retry,
                self.cfg.settings.timeout,
                || {
                    headers.iter().fold(
                        self.request(service, reqwest::Method::GET, url)
                            .header("X-Auth-Token", &token.value),
                        |req, (name, value)| req.header(*name, value),
                    )
                },
            )
            .await?;
            let status = resp.status;
            if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                self.invalidate(&token).await;
                // Keystone revokes by whole seconds: a token issued in the second of a password
                // change or project disable is born revoked, and so would be one fetched at once.
                let age = token.obtained.elapsed();
                if age < FRESH_TOKEN {
                    tokio::time::sleep(FRESH_TOKEN - age).await;
                }
                reauthenticated = true;
                continue;
            }
            if absent.contains(&status.as_u16()) {
                return Ok(None);
            }
            let text = resp.text;
            if !status.is_success() {
                return Err(OpenStackError::UpstreamStatus {
                    service,
                    status: status.as_u16(),
                    message: summarize_body(&text),
                });
            }
            return serde_json::from_str(&without_lone_surrogates(&text))
                .map(Some)
                .map_err(|e| OpenStackError::MalformedBody {
                    service,
                    detail: e.to_string(),
                });
        }
    }
}
