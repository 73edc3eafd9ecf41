//! One cloud of `clouds.yaml` turned into what cloudcensus registers.
//!
//! First openstacksdk's rules (`loader.py` `get_one` and its `magic_fixes`): one cloud per
//! region (`regions`, or `region_name`, with a region's `values` laid over the cloud); keys
//! with `-` read as `_`; `auth_plugin` for `auth_type`; `tenant_*` for `project_*`; project
//! and domain keys beside `auth` moved into it (and winning over it); `domain_*` standing
//! for the user's and the project's domain of a project-scoped entry; `endpoint_type` for
//! `interface`; `insecure` beating `verify`; `{key}` in `auth_url` filled from the cloud.
//! Then the catalog's model, with a note for whatever it cannot hold and for every key
//! left unused.
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::files::expand_home;
use crate::api::{NAME_MAX, TEXT_MAX, is_http_url};
use crate::catalog::Interface;
use crate::catalog::credentials::Credentials;
use crate::openstack::tls::{self, ClientIdentity, TlsConfig};

/// One region of a clouds.yaml cloud, to register as one cloud.
#[derive(Clone)]
pub struct Entry {
    /// The catalog name: the cloud's, or `<cloud>-<region>` when it has several regions.
    pub name: String,
    /// Its name in clouds.yaml.
    pub source: String,
    pub auth_url: String,
    /// Empty: any region.
    pub region: String,
    pub interface: Interface,
    /// The user's Keystone domain, by name (`default`: Keystone's default domain).
    pub domain: String,
    pub login: Login,
    pub tls: Tls,
    pub notes: Vec<String>,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    Password {
        username: String,
        password: String,
        project: Option<Project>,
    },
    AppCredential {
        id: Option<String>,
        name: Option<String>,
        user: Option<String>,
        secret: String,
        /// The credential's project when the entry states it; else learned by logging in.
        project_id: Option<String>,
        /// The name of its tenant, when the entry states it.
        project_name: Option<String>,
    },
}

/// The project a password login is scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: Option<String>,
    pub name: Option<String>,
    /// The domain of a project named by name (`default` unless the entry says otherwise,
    /// as openstackclient does).
    pub domain: String,
}

/// TLS settings, with the files they name read at import.
#[derive(Clone, PartialEq, Eq)]
pub struct Tls {
    pub verify: bool,
    pub cacert: Option<PemFile>,
    pub client_cert: Option<PemFile>,
    pub client_key: Option<PemFile>,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            verify: true,
            cacert: None,
            client_cert: None,
            client_key: None,
        }
    }
}

impl Tls {
    /// Anything beyond the defaults (verify with the system's roots, no client certificate).
    pub fn is_custom(&self) -> bool {
        *self != Self::default()
    }

    /// The settings the catalog keeps: the files' text, read at import.
    pub fn config(&self) -> TlsConfig {
        let client = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some(ClientIdentity {
                cert: cert.pem.clone(),
                key: key.pem.clone(),
            }),
            _ => None,
        };
        TlsConfig {
            cacert: self.cacert.as_ref().map(|f| f.pem.clone()),
            verify: self.verify,
            client,
        }
    }
}

/// A PEM file as read (a client key is a secret: `Debug` shows the path only).
#[derive(Clone, PartialEq, Eq)]
pub struct PemFile {
    pub path: PathBuf,
    pub pem: String,
}

impl std::fmt::Debug for PemFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PemFile({})", self.path.display())
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("auth_url", &self.auth_url)
            .field("region", &self.region)
            .field("credentials", &self.credentials())
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// The credentials to store (a project's id is added when a login has told it).
    pub fn credentials(&self) -> Credentials {
        match &self.login {
            Login::Password {
                username,
                password,
                project,
            } => Credentials::Password {
                username: username.clone(),
                password: password.clone(),
                project_name: project.as_ref().and_then(|p| p.name.clone()),
                project_id: project.as_ref().and_then(|p| p.id.clone()),
            },
            Login::AppCredential {
                id,
                name,
                user,
                secret,
                ..
            } => Credentials::ApplicationCredential {
                id: id.clone(),
                name: name.clone(),
                user: user.clone(),
                secret: secret.clone(),
            },
        }
    }
}

/// What became of one clouds.yaml cloud (or one of its regions).
#[derive(Debug)]
pub enum Parsed {
    Entry(Box<Entry>),
    /// Something cloudcensus does not do (another auth type, say): left out on purpose.
    Skipped {
        cloud: String,
        reason: String,
    },
    /// A mistake in the entry (no password, no auth_url, …): it cannot be imported.
    Invalid {
        cloud: String,
        reason: String,
    },
}

/// Paths in the entry are read relative to the working directory, `~/` from `home`.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub home: Option<PathBuf>,
}

/// The cloud's regions, each with the values it lays over the cloud.
struct Region {
    name: String,
    values: Map<String, Value>,
}

/// openstacksdk's `_get_known_regions`: `regions` (names, or `{name, values}`), else
/// `region_name` (a name, a comma-separated list, or a list), else one region with no name.
fn regions(cloud: &Map<String, Value>) -> Result<Vec<Region>, String> {
    let list: Vec<Value> = match (cloud.get("regions"), cloud.get("region_name")) {
        (Some(Value::Array(list)), _) => list.clone(),
        (Some(other), _) => return Err(format!("`regions` is not a list: {}", kind(other))),
        (None, Some(Value::Array(list))) => list.clone(),
        (None, Some(Value::String(s))) => s
            .split(',')
            .map(|r| Value::String(r.trim().to_string()))
            .collect(),
        (None, Some(other)) => vec![Value::String(scalar(other).unwrap_or_default())],
        (None, None) => Vec::new(),
    };
    let mut out = Vec::new();
    for item in list {
        match item {
            Value::Object(mut m) => {
                let extra: Vec<&String> = m
                    .keys()
                    .filter(|k| *k != "name" && *k != "values")
                    .collect();
                let name = m.get("name").and_then(scalar);
                let (Some(name), true) = (name, extra.is_empty()) else {
                    return Err(
                        "a `regions` entry must have a `name` and may have only `values` beside it"
                            .into(),
                    );
                };
                let values = match m.remove("values") {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(v)) => v,
                    Some(_) => {
                        return Err(format!("the `values` of region {name:?} are not a mapping"));
                    }
                };
                out.push(Region { name, values });
            }
            other => out.push(Region {
                name: scalar(&other).ok_or("a `regions` entry is neither a name nor a mapping")?,
                values: Map::new(),
            }),
        }
    }
    if out.is_empty() {
        out.push(Region {
            name: String::new(),
            values: Map::new(),
        });
    }
    Ok(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A scalar as text, as openstacksdk's `str()` and `normalize_keys` make of numbers.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

/// Keys with `-` read as `_`, in nested mappings too (`normalize_keys`).
fn normalized(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Object(m) => Value::Object(normalized(m)),
                other => other,
            };
            (k.replace('-', "_"), v)
        })
        .collect()
}

/// Every clouds.yaml cloud becomes one entry per region, or a reason why not.
pub fn parse_cloud(cloud_name: &str, raw: &Value, ctx: &Context) -> Vec<Parsed> {
    let invalid = |reason: String| Parsed::Invalid {
        cloud: cloud_name.to_string(),
        reason,
    };
    let Value::Object(cloud) = raw else {
        return vec![invalid(format!(
            "cloud {cloud_name:?} is not a mapping but {}",
            kind(raw)
        ))];
    };
    let regions = match regions(cloud) {
        Ok(r) => r,
        Err(e) => return vec![invalid(format!("cloud {cloud_name:?}: {e}"))],
    };
    let several = regions.len() > 1;
    regions
        .into_iter()
        .map(|region| {
            let name = if several {
                format!("{cloud_name}-{}", region.name)
            } else {
                cloud_name.to_string()
            };
            let mut config = cloud.clone();
            config.remove("regions");
            config.remove("region_name");
            lay_over(&mut config, region.values);
            let reader = Reader {
                cloud: cloud_name,
                config: normalized(config),
                auth: Map::new(),
                notes: Vec::new(),
                ctx,
            };
            reader.read(name, region.name)
        })
        .collect()
}

/// A region's values over the cloud's: `auth` merged key by key, the rest replaced.
fn lay_over(config: &mut Map<String, Value>, values: Map<String, Value>) {
    for (k, v) in values {
        match (k.as_str(), config.get_mut("auth"), v) {
            ("auth", Some(Value::Object(auth)), Value::Object(over)) => auth.extend(over),
            (_, _, Value::Null) => {}
            (_, _, v) => {
                config.insert(k, v);
            }
        }
    }
}

/// openstacksdk's `_fix_backwards_auth` targets and the names each may be given under.
const AUTH_ALIASES: &[(&str, &[&str])] = &[
    ("domain_id", &["domain_id"]),
    ("domain_name", &["domain_name"]),
    ("user_domain_id", &["user_domain_id"]),
    ("user_domain_name", &["user_domain_name"]),
    ("project_domain_id", &["project_domain_id"]),
    ("project_domain_name", &["project_domain_name"]),
    ("project_id", &["tenant_id", "project_id"]),
    ("project_name", &["tenant_name", "project_name"]),
];

/// Reads one region's config, taking each key it uses out of it: what is left is unused.
struct Reader<'a> {
    cloud: &'a str,
    config: Map<String, Value>,
    auth: Map<String, Value>,
    notes: Vec<String>,
    ctx: &'a Context,
}

/// Why an entry cannot be imported: `Skip` for what cloudcensus does not do, `Invalid` for
/// a mistake in the entry.
enum Refusal {
    Skip(String),
    Invalid(String),
}

type Read<T> = Result<T, Refusal>;

impl Reader<'_> {
    fn read(mut self, name: String, region: String) -> Parsed {
        let cloud = self.cloud.to_string();
        match self.entry(name, region) {
            Ok(e) => Parsed::Entry(Box::new(e)),
            Err(Refusal::Skip(reason)) => Parsed::Skipped { cloud, reason },
            Err(Refusal::Invalid(reason)) => Parsed::Invalid { cloud, reason },
        }
    }

    fn invalid<T>(&self, what: impl std::fmt::Display) -> Read<T> {
        Err(Refusal::Invalid(format!("cloud {:?}: {what}", self.cloud)))
    }

    fn entry(&mut self, name: String, region: String) -> Read<Entry> {
        self.auth = match self.config.remove("auth") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(a)) => a,
            Some(other) => {
                return self.invalid(format!("`auth` is {}, not a mapping", kind(&other)));
            }
        };
        self.vendor_profile();
        self.move_auth_aliases();
        self.domain_shorthand();
        let auth_type = self.auth_type()?;
        let auth_url = self.auth_url(&region)?;
        let interface = self.interface()?;
        let tls = self.tls()?;
        self.identity_api_version();
        let user_domain = self.user_domain()?;
        let login = match auth_type {
            AuthType::Password => self.password_login()?,
            AuthType::AppCredential => self.app_credential_login()?,
        };
        self.domain_scope();
        self.note_unused();
        if name.chars().count() > NAME_MAX {
            return self.invalid(format!(
                "its name {name:?} is longer than {NAME_MAX} characters"
            ));
        }
        Ok(Entry {
            name,
            source: self.cloud.to_string(),
            auth_url,
            region,
            interface,
            domain: user_domain,
            login,
            tls,
            notes: std::mem::take(&mut self.notes),
        })
    }

    /// A top-level key's value, taken out.
    fn take(&mut self, key: &str) -> Option<Value> {
        self.config.remove(key).filter(|v| !v.is_null())
    }

    /// An `auth` key's text, taken out; blank counts as absent.
    fn take_auth(&mut self, key: &str) -> Read<Option<String>> {
        match self.auth.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match scalar(&v) {
                Some(s) if s.trim().is_empty() => Ok(None),
                Some(s) => Ok(Some(s)),
                None => self.invalid(format!("auth key `{key}` is {}, not text", kind(&v))),
            },
        }
    }

    fn vendor_profile(&mut self) {
        for key in ["profile", "cloud"] {
            if let Some(v) = self.take(key) {
                self.notes.push(format!(
                    "cloud {:?} names the vendor profile {} (`{key}`): vendor profiles are not read, only the cloud's own keys",
                    self.cloud,
                    scalar(&v).unwrap_or_default()
                ));
            }
        }
    }

    /// `_fix_backwards_auth`: the last alias found wins, and a key beside `auth` beats one
    /// inside it ("they may contain cli or environment overrides").
    fn move_auth_aliases(&mut self) {
        for (target, aliases) in AUTH_ALIASES {
            let mut found = None;
            for alias in *aliases {
                if let Some(v) = self.auth.remove(*alias) {
                    found = Some(v);
                }
                if let Some(v) = self.config.remove(*alias) {
                    found = Some(v);
                }
            }
            if let Some(v) = found.filter(|v| !v.is_null()) {
                self.auth.insert(target.to_string(), v);
            }
        }
    }

    fn project_scoped(&self) -> bool {
        self.auth.contains_key("project_id") || self.auth.contains_key("project_name")
    }

    /// `_handle_domain_id`: in a project-scoped entry, `domain_*` gives the user's and the
    /// project's domain where those are not given.
    fn domain_shorthand(&mut self) {
        if !self.project_scoped() {
            return;
        }
        for (short, long) in [
            ("domain_id", ["user_domain_id", "project_domain_id"]),
            ("domain_name", ["user_domain_name", "project_domain_name"]),
        ] {
            if let Some(v) = self.auth.remove(short) {
                for key in long {
                    self.auth.entry(key).or_insert_with(|| v.clone());
                }
            }
        }
    }

    fn auth_type(&mut self) -> Read<AuthType> {
        // `_fix_backwards_auth_plugin`: `auth_type` wins over the older `auth_plugin`.
        let plugin = self.take("auth_plugin");
        let given = self.take("auth_type").or(plugin);
        let raw = given.as_ref().and_then(scalar).unwrap_or_default();
        match raw.as_str() {
            "" | "password" | "v3password" => Ok(AuthType::Password),
            "v3applicationcredential" => Ok(AuthType::AppCredential),
            other => Err(Refusal::Skip(format!(
                "cloud {:?}: auth_type {other:?} is not supported (cloudcensus logs in with password, v3password or v3applicationcredential)",
                self.cloud
            ))),
        }
    }

    fn auth_url(&mut self, region: &str) -> Read<String> {
        let Some(raw) = self.take_auth("auth_url")? else {
            return self.invalid("no auth_url (the Keystone URL, under `auth`)");
        };
        let url = self.fill_placeholders(&raw, region)?;
        if !is_http_url(&url) {
            return self.invalid(format!("auth_url {url:?} is not an http(s) URL"));
        }
        if url.len() > TEXT_MAX {
            return self.invalid(format!("auth_url is longer than {TEXT_MAX} characters"));
        }
        Ok(url)
    }

    /// `auth_url.format(**config)`: `{region_name}` and the cloud's other text keys.
    fn fill_placeholders(&self, raw: &str, region: &str) -> Read<String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            let key = &rest[start + 1..start + len];
            let value = if key == "region_name" {
                Some(region.to_string())
            } else {
                self.config.get(key).and_then(scalar)
            };
            let Some(value) = value else {
                return self.invalid(format!(
                    "auth_url refers to {{{key}}}, which the cloud does not set"
                ));
            };
            out.push_str(&rest[..start]);
            out.push_str(&value);
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `interface`, or the older `endpoint_type`; `publicURL` and the like as v2 named them.
    fn interface(&mut self) -> Read<Interface> {
        let old = self.take("endpoint_type");
        let Some(v) = self.take("interface").or(old) else {
            return Ok(Interface::Public);
        };
        let raw = scalar(&v).unwrap_or_default();
        let name = raw.strip_suffix("URL").unwrap_or(&raw);
        match Interface::parse(name) {
            Some(i) => Ok(i),
            None => self.invalid(format!(
                "interface {raw:?} is not public, internal or admin"
            )),
        }
    }

    fn identity_api_version(&mut self) {
        if let Some(v) = self.take("identity_api_version") {
            let version = scalar(&v).unwrap_or_default();
            if !version.starts_with('3') {
                self.notes.push(format!(
                    "cloud {:?}: identity_api_version {version} is ignored: cloudcensus speaks Keystone v3",
                    self.cloud
                ));
            }
        }
    }

    /// A bool as PyYAML reads one, or the text `true`/`false`.
    fn flag(&mut self, key: &str) -> Read<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => self.invalid(format!("`{key}` is {}, not true or false", kind(&other))),
        }
    }

    /// openstacksdk's `get_requests_verify_args`: `insecure` wins over `verify`; a client
    /// key is used only with a client certificate, whose file may hold the key too (as
    /// requests takes it). The files are read now and checked as the API checks them.
    fn tls(&mut self) -> Read<Tls> {
        let insecure = self.flag("insecure")?.unwrap_or(false);
        let verify = self.flag("verify")?.unwrap_or(true) && !insecure;
        let cacert = self.pem("cacert")?;
        if let Some(ca) = &cacert
            && let Err(e) = tls::check_cacert(&ca.pem)
        {
            return self.invalid(format!("its cacert {}: {e}", ca.path.display()));
        }
        let cert_file = self.pem("cert")?;
        let mut client_key = self.pem("key")?;
        if cert_file.is_none() && client_key.is_some() {
            self.notes.push(format!(
                "cloud {:?}: `key` is ignored without `cert`",
                self.cloud
            ));
            client_key = None;
        }
        let client_cert = match cert_file {
            Some(file) => Some(self.client_pair(file, &mut client_key)?),
            None => None,
        };
        if !verify && cacert.is_some() {
            self.notes.push(format!(
                "cloud {:?}: cacert is given but verification is off: the server's certificate is not checked",
                self.cloud
            ));
        }
        Ok(Tls {
            verify,
            cacert,
            client_cert,
            client_key,
        })
    }

    /// The client certificate of `file` (its certificates only) and its key: `key`, else the
    /// one `file` holds; checked as a pair.
    fn client_pair(&self, file: PemFile, key: &mut Option<PemFile>) -> Read<PemFile> {
        let certs = tls::sections(&file.pem, tls::is_certificate);
        let own_key = tls::sections(&file.pem, tls::is_private_key);
        if key.is_none() && !own_key.is_empty() {
            *key = Some(PemFile {
                path: file.path.clone(),
                pem: own_key,
            });
        }
        let path = file.path.display();
        let Some(key) = key.as_ref() else {
            return self.invalid(format!(
                "its cert {path} holds no private key and no `key` is given"
            ));
        };
        if let Err(e) = tls::check_cert(&certs).and_then(|()| tls::check_identity(&certs, &key.pem))
        {
            return self.invalid(format!(
                "its cert {path} with key {}: {e}",
                key.path.display()
            ));
        }
        Ok(PemFile {
            path: file.path,
            pem: certs,
        })
    }

    fn pem(&mut self, key: &str) -> Read<Option<PemFile>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let Some(raw) = scalar(&v).filter(|s| !s.trim().is_empty()) else {
            return self.invalid(format!("`{key}` is {}, not a file path", kind(&v)));
        };
        let path = expand_home(&raw, self.ctx.home.as_deref());
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(e) => {
                return self.invalid(format!("cannot read its {key} {}: {e}", path.display()));
            }
        };
        if !pem.contains("-----BEGIN ") {
            return self.invalid(format!("its {key} {} is not a PEM file", path.display()));
        }
        Ok(Some(PemFile { path, pem }))
    }

    /// The user's domain by name; an id only when it is Keystone's `default` (the catalog
    /// knows domains by name).
    fn user_domain(&mut self) -> Read<String> {
        let name = self.take_auth("user_domain_name")?;
        let id = self.take_auth("user_domain_id")?;
        match (name, id) {
            (Some(name), _) => Ok(name),
            (None, Some(id)) if id.eq_ignore_ascii_case("default") => Ok("default".into()),
            (None, Some(id)) => Err(Refusal::Skip(format!(
                "cloud {:?}: user_domain_id {id:?} cannot be kept: cloudcensus knows a user's domain by its name (give user_domain_name)",
                self.cloud
            ))),
            (None, None) => Ok("default".into()),
        }
    }

    /// The domain of a project named by name: as given, else `default` (openstackclient's
    /// default). An id other than `default` is noted and replaced by the user's domain.
    fn project_domain(&mut self) -> Read<Option<String>> {
        let name = self.take_auth("project_domain_name")?;
        let id = self.take_auth("project_domain_id")?;
        Ok(match (name, id) {
            (Some(name), _) => Some(name),
            (None, Some(id)) if id.eq_ignore_ascii_case("default") => Some("default".into()),
            (None, Some(id)) => {
                self.notes.push(format!(
                    "cloud {:?}: project_domain_id {id:?} cannot be kept (domains are known by name): give project_id or project_domain_name",
                    self.cloud
                ));
                None
            }
            (None, None) => Some("default".into()),
        })
    }

    fn password_login(&mut self) -> Read<Login> {
        if let Some(id) = self.take_auth("user_id")? {
            return Err(Refusal::Skip(format!(
                "cloud {:?}: user_id {id:?} cannot be kept: cloudcensus logs in with a user's name (give username)",
                self.cloud
            )));
        }
        let Some(username) = self.take_auth("username")? else {
            return self.invalid("no username (under `auth`)");
        };
        let Some(password) = self.take_auth("password")? else {
            return self.invalid("no password (under `auth`, in clouds.yaml or secure.yaml)");
        };
        self.check_length("username", &username, NAME_MAX)?;
        self.check_length("password", &password, TEXT_MAX)?;
        let id = self.take_auth("project_id")?;
        let name = self.take_auth("project_name")?;
        let domain = self.project_domain()?;
        let project = match (id, name) {
            (None, None) => None,
            (id, name) => Some(Project {
                id,
                name,
                domain: domain.unwrap_or_else(|| "default".into()),
            }),
        };
        Ok(Login::Password {
            username,
            password,
            project,
        })
    }

    fn app_credential_login(&mut self) -> Read<Login> {
        let id = self.take_auth("application_credential_id")?;
        let name = self.take_auth("application_credential_name")?;
        let Some(secret) = self.take_auth("application_credential_secret")? else {
            return self.invalid(
                "no application_credential_secret (under `auth`, in clouds.yaml or secure.yaml)",
            );
        };
        self.check_length("application_credential_secret", &secret, TEXT_MAX)?;
        // A named credential is found among its user's, so the user's name is needed.
        let user = if id.is_none() {
            let Some(name) = &name else {
                return self.invalid("no application_credential_id or application_credential_name");
            };
            match self.take_auth("username")? {
                Some(user) => Some(user),
                None => {
                    return self.invalid(format!(
                        "application credential {name:?} is named without its user: give username, or application_credential_id"
                    ));
                }
            }
        } else {
            None
        };
        // An application credential carries its own project (Keystone refuses a scope with
        // it): the entry's project only tells which tenant to register.
        let project_id = self.take_auth("project_id")?;
        let project_name = self.take_auth("project_name")?;
        self.project_domain()?;
        Ok(Login::AppCredential {
            id,
            // With an id, Keystone needs nothing else.
            name: if user.is_some() { name } else { None },
            user,
            secret,
            project_id,
            project_name,
        })
    }

    fn check_length(&self, field: &str, value: &str, max: usize) -> Read<()> {
        if value.chars().count() > max {
            return self.invalid(format!("{field} is longer than {max} characters"));
        }
        Ok(())
    }

    /// An entry not scoped to a project may name a domain to scope to: cloudcensus logs in
    /// to projects only.
    fn domain_scope(&mut self) {
        for key in ["domain_name", "domain_id"] {
            if let Some(v) = self.auth.remove(key) {
                self.notes.push(format!(
                    "cloud {:?}: {key} {} (a domain-scoped login) is not used: cloudcensus logs in to projects",
                    self.cloud,
                    scalar(&v).unwrap_or_default()
                ));
            }
        }
    }

    fn note_unused(&mut self) {
        let cloud = self.cloud;
        self.notes.extend(
            self.config
                .keys()
                .map(|k| format!("key {k:?} of cloud {cloud:?} is not used (ignored)")),
        );
        self.notes.extend(
            self.auth
                .keys()
                .map(|k| format!("auth key {k:?} of cloud {cloud:?} is not used (ignored)")),
        );
    }
}

enum AuthType {
    Password,
    AppCredential,
}

/// The context of this process. A relative `cacert` is read from the working directory, so
/// it means what it means to the `openstack` command run from there.
pub fn context_from_env() -> Context {
    Context {
        home: std::env::var_os("HOME").map(PathBuf::from),
    }
}

/// Every selected cloud's entries, in file order.
pub fn parse_all<'a>(
    clouds: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ctx: &Context,
) -> Vec<Parsed> {
    clouds
        .into_iter()
        .flat_map(|(name, raw)| parse_cloud(name, raw, ctx))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(name: &str, raw: Value) -> Vec<Parsed> {
        parse_cloud(name, &raw, &Context::default())
    }

    fn one(name: &str, raw: Value) -> Entry {
        match parse(name, raw).pop() {
            Some(Parsed::Entry(e)) => *e,
            other => panic!("{other:?}"),
        }
    }

    fn refused(name: &str, raw: Value) -> (bool, String) {
        match parse(name, raw).pop() {
            Some(Parsed::Invalid { reason, .. }) => (true, reason),
            Some(Parsed::Skipped { reason, .. }) => (false, reason),
            other => panic!("{other:?}"),
        }
    }

    fn password(username: &str, password: &str, project: Option<Project>) -> Login {
        Login::Password {
            username: username.into(),
            password: password.into(),
            project,
        }
    }

    const URL: &str = "https://keystone.example.org:5000/v3";

    #[test]
    fn a_password_cloud_with_defaults() {
        let e = one(
            "prod",
            json!({"auth": {"auth_url": URL, "username": "ops", "password": "pw",
                            "project_name": "demo"}}),
        );
        assert_eq!(e.name, "prod");
        assert_eq!(e.auth_url, URL);
        assert_eq!(e.region, "");
        assert_eq!(e.interface, Interface::Public);
        assert_eq!(e.domain, "default");
        assert!(
            e.login
                == password(
                    "ops",
                    "pw",
                    Some(Project {
                        id: None,
                        name: Some("demo".into()),
                        domain: "default".into()
                    })
                )
        );
        assert!(e.tls.verify && !e.tls.is_custom());
        assert!(e.notes.is_empty(), "{:?}", e.notes);
    }

    #[test]
    fn several_regions_make_one_cloud_each_with_the_region_in_its_name() {
        let parsed = parse(
            "prod",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"},
                   "regions": ["east", {"name": "west", "values": {"interface": "internal"}}]}),
        );
        let entries: Vec<Entry> = parsed
            .into_iter()
            .map(|p| match p {
                Parsed::Entry(e) => *e,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            (entries[0].name.as_str(), entries[0].region.as_str()),
            ("prod-east", "east")
        );
        assert_eq!(entries[0].interface, Interface::Public);
        assert_eq!(
            (entries[1].name.as_str(), entries[1].region.as_str()),
            ("prod-west", "west")
        );
        assert_eq!(
            entries[1].interface,
            Interface::Internal,
            "a region's values apply"
        );
        let single = one(
            "lab",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"}, "regions": [{"name": "only"}]}),
        );
        assert_eq!(
            (single.name.as_str(), single.region.as_str()),
            ("lab", "only")
        );
    }

    #[test]
    fn region_name_may_be_a_comma_separated_list() {
        let parsed = parse(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"}, "region_name": "r1,r2"}),
        );
        let names: Vec<String> = parsed
            .iter()
            .map(|p| match p {
                Parsed::Entry(e) => e.name.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["c-r1", "c-r2"]);
    }

    #[test]
    fn a_bad_region_entry_is_invalid() {
        let (invalid, reason) = refused(
            "c",
            json!({"auth": {"auth_url": URL}, "regions": [{"name": "r", "extra": 1}]}),
        );
        assert!(invalid && reason.contains("\"c\""), "{reason}");
    }

    #[test]
    fn project_and_domain_keys_beside_auth_win_and_tenant_means_project() {
        let e = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p",
                            "project_name": "inside", "tenant-id": "id-inside"},
                   "project_name": "outside", "user-domain-name": "Corp"}),
        );
        assert_eq!(e.domain, "Corp");
        assert!(
            e.login
                == password(
                    "u",
                    "p",
                    Some(Project {
                        id: Some("id-inside".into()),
                        name: Some("outside".into()),
                        domain: "default".into()
                    })
                )
        );
    }

    #[test]
    fn domain_name_stands_for_both_domains_of_a_project_scoped_entry() {
        let e = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p",
                            "project_name": "demo", "domain_name": "Corp"}}),
        );
        assert_eq!(e.domain, "Corp");
        let Login::Password {
            project: Some(p), ..
        } = &e.login
        else {
            panic!()
        };
        assert_eq!(p.domain, "Corp");
        assert!(e.notes.is_empty(), "{:?}", e.notes);
        // Without a project, it is a domain scope, which cloudcensus does not use.
        let unscoped = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p", "domain_name": "Corp"}}),
        );
        assert_eq!(unscoped.domain, "default");
        assert!(
            unscoped.notes.iter().any(|n| n.contains("domain-scoped")),
            "{:?}",
            unscoped.notes
        );
    }

    #[test]
    fn user_domain_by_id_is_kept_only_for_default() {
        let e = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p", "user_domain_id": "default"}}),
        );
        assert_eq!(e.domain, "default");
        let (invalid, reason) = refused(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p", "user_domain_id": "a1b2"}}),
        );
        assert!(!invalid && reason.contains("user_domain_name"), "{reason}");
    }

    #[test]
    fn application_credentials_by_id_and_by_name() {
        let by_id = one(
            "c",
            json!({"auth_type": "v3applicationcredential",
                   "auth": {"auth_url": URL, "application_credential_id": "ac1",
                            "application_credential_secret": "s"}}),
        );
        assert!(
            by_id.login
                == Login::AppCredential {
                    id: Some("ac1".into()),
                    name: None,
                    user: None,
                    secret: "s".into(),
                    project_id: None,
                    project_name: None
                }
        );
        let by_name = one(
            "c",
            json!({"auth_type": "v3applicationcredential",
                   "auth": {"auth_url": URL, "application_credential_name": "census",
                            "username": "ops", "user_domain_name": "Corp",
                            "application_credential_secret": "s", "project_id": "p1"}}),
        );
        assert_eq!(by_name.domain, "Corp");
        assert!(
            by_name.login
                == Login::AppCredential {
                    id: None,
                    name: Some("census".into()),
                    user: Some("ops".into()),
                    secret: "s".into(),
                    project_id: Some("p1".into()),
                    project_name: None
                }
        );
        let (invalid, reason) = refused(
            "c",
            json!({"auth_type": "v3applicationcredential",
                   "auth": {"auth_url": URL, "application_credential_name": "census",
                            "application_credential_secret": "s"}}),
        );
        assert!(invalid && reason.contains("username"), "{reason}");
    }

    #[test]
    fn other_auth_types_are_skipped_with_the_cloud_named() {
        for t in ["token", "v2password", "v3oidcpassword"] {
            let (invalid, reason) =
                refused("sso", json!({"auth_type": t, "auth": {"auth_url": URL}}));
            assert!(!invalid, "{t}");
            assert!(reason.contains("\"sso\"") && reason.contains(t), "{reason}");
        }
        // auth_plugin is the older name; auth_type wins.
        let (_, reason) = refused(
            "c",
            json!({"auth_plugin": "password", "auth_type": "token", "auth": {"auth_url": URL}}),
        );
        assert!(reason.contains("token"), "{reason}");
    }

    #[test]
    fn missing_password_or_auth_url_names_the_cloud() {
        let (invalid, reason) =
            refused("prod", json!({"auth": {"auth_url": URL, "username": "u"}}));
        assert!(
            invalid && reason.contains("\"prod\"") && reason.contains("no password"),
            "{reason}"
        );
        let (invalid, reason) = refused("lab", json!({"auth": {"username": "u", "password": "p"}}));
        assert!(
            invalid && reason.contains("\"lab\"") && reason.contains("auth_url"),
            "{reason}"
        );
        let (invalid, reason) = refused(
            "lab",
            json!({"auth": {"auth_url": "keystone:5000", "username": "u", "password": "p"}}),
        );
        assert!(invalid && reason.contains("http"), "{reason}");
    }

    #[test]
    fn unknown_keys_are_noted_with_key_and_cloud() {
        let e = one(
            "prod",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p", "token": "t"},
                   "image_api_version": 2, "identity_api_version": 3}),
        );
        assert_eq!(e.notes.len(), 2, "{:?}", e.notes);
        assert!(
            e.notes
                .iter()
                .any(|n| n.contains("\"image_api_version\"") && n.contains("\"prod\""))
        );
        assert!(e.notes.iter().any(|n| n.contains("auth key \"token\"")));
    }

    #[test]
    fn interface_and_its_older_names() {
        for (raw, want) in [
            ("internal", Interface::Internal),
            ("adminURL", Interface::Admin),
            ("public", Interface::Public),
        ] {
            let e = one(
                "c",
                json!({"auth": {"auth_url": URL, "username": "u", "password": "p"}, "endpoint_type": raw}),
            );
            assert_eq!(e.interface, want);
        }
        let (invalid, _) = refused(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"}, "interface": "private"}),
        );
        assert!(invalid);
    }

    #[test]
    fn auth_url_placeholders_are_filled() {
        let parsed = parse(
            "c",
            json!({"auth": {"auth_url": "https://{region_name}.example.org:5000/v3", "username": "u", "password": "p"},
                   "regions": ["east", "west"]}),
        );
        let Some(Parsed::Entry(e)) = parsed.first() else {
            panic!("{parsed:?}")
        };
        assert_eq!(e.auth_url, "https://east.example.org:5000/v3");
        let (invalid, reason) = refused(
            "c",
            json!({"auth": {"auth_url": "https://{nope}/v3", "username": "u", "password": "p"}}),
        );
        assert!(invalid && reason.contains("{nope}"), "{reason}");
    }

    #[test]
    fn tls_files_are_read_and_insecure_wins() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let made = rcgen::generate_simple_self_signed(vec!["ca.example".to_string()]).unwrap();
        std::fs::write(&ca, made.cert.pem()).unwrap();
        let e = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"},
                   "cacert": ca.to_str().unwrap(), "verify": true}),
        );
        assert!(e.tls.verify);
        assert_eq!(e.tls.cacert.as_ref().unwrap().path, ca);
        assert!(
            e.tls
                .cacert
                .as_ref()
                .unwrap()
                .pem
                .contains("BEGIN CERTIFICATE")
        );
        let off = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"},
                   "verify": true, "insecure": "True"}),
        );
        assert!(!off.tls.verify);
        let (invalid, reason) = refused(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"},
                   "cacert": dir.path().join("missing.pem").to_str().unwrap()}),
        );
        assert!(invalid && reason.contains("missing.pem"), "{reason}");

        // A certificate file holding its key gives both, the certificate without the key.
        let both = dir.path().join("client.pem");
        let key = made.signing_key.serialize_pem();
        std::fs::write(&both, format!("{}{key}", made.cert.pem())).unwrap();
        let e = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"},
                   "cert": both.to_str().unwrap()}),
        );
        let cert = e.tls.client_cert.as_ref().unwrap();
        assert!(!cert.pem.contains("PRIVATE KEY"));
        assert_eq!(e.tls.client_key.as_ref().unwrap().pem, key);
        let (invalid, reason) = refused(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "p"},
                   "cert": ca.to_str().unwrap()}),
        );
        assert!(invalid && reason.contains("no private key"), "{reason}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let e = one(
            "c",
            json!({"auth": {"auth_url": URL, "username": "u", "password": "hunter2"}}),
        );
        assert!(!format!("{e:?}").contains("hunter2"));
    }
}
