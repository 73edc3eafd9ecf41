//! Configuration from the environment (and `.env`, loaded by `main`).
use std::net::SocketAddr;

use crate::sync::settings::{CronError, parse_cron};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://cloudcensus.db?mode=rwc";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("CLOUDCENSUS_BIND={0:?} is not an address such as 127.0.0.1:8080")]
    Bind(String),
    #[error("CLOUDCENSUS_PUBLIC_URL={0:?} must be an absolute http(s) URL")]
    PublicUrl(String),
    #[error("CLOUDCENSUS_SYNC_CRON: {0}")]
    Cron(CronError),
    #[error("CLOUDCENSUS_DELTA_CRON: {0}")]
    DeltaCron(CronError),
    #[error("CLOUDCENSUS_READ_INDEX={0:?} must be on or off")]
    ReadIndex(String),
    #[error("{name}={value:?} must be a whole number from {min} to {max}")]
    Number {
        name: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
}

fn number(
    name: &'static str,
    raw: Option<String>,
    default: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    number_from(name, raw, default, 1, max)
}

fn number_from(
    name: &'static str,
    raw: Option<String>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match raw {
        None => Ok(default),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::Number {
                name,
                value,
                min,
                max,
            }),
        },
    }
}

/// Shortest claim on a tenant `CLOUDCENSUS_SYNC_LEASE_SECS` allows: a sync renews its claim
/// every third of its life, and a renewal slowed by a busy database for longer than the rest
/// of it would hand the tenant to another replica mid-sync.
pub const MIN_SYNC_LEASE_SECS: u64 = 5;

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// Base of every absolute `url` field; `None` means "derive it from the bound address".
    pub public_url: Option<String>,
    /// Passphrase for credential encryption.
    pub secret_key: Option<String>,
    /// When sweeps run: 6-field cron (with seconds), UTC.
    pub sync_cron: String,
    /// When delta polls run between sweeps (6-field cron, UTC); `None`: never.
    pub delta_cron: Option<String>,
    /// Tenants synced at once.
    pub sync_concurrency: usize,
    /// Threads syncs run on, apart from the API's.
    pub sync_threads: usize,
    /// How long, in seconds, a replica's claim on a tenant outlives its last renewal: the
    /// longest a dead replica's tenants wait before another replica takes them over.
    pub sync_lease_secs: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Total time allowed for one OpenStack request.
    pub http_timeout_secs: u64,
    /// Answer image lists from the in-memory listing index (on) or always with SQL (off).
    pub read_index: bool,
    /// Days of closed lifecycle intervals to keep; `None` keeps everything.
    pub usage_retention_days: Option<u64>,
    /// The bearer token `/metrics` asks for; `None`: open.
    pub metrics_token: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| {
            // An empty CLOUDCENSUS_DELTA_CRON switches delta polls off; elsewhere empty is unset.
            std::env::var(key)
                .ok()
                .filter(|v| !v.trim().is_empty() || key == "CLOUDCENSUS_DELTA_CRON")
        })
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bind_raw = get("CLOUDCENSUS_BIND").unwrap_or_else(|| DEFAULT_BIND.to_string());
        let bind = bind_raw
            .trim()
            .parse()
            .map_err(|_| ConfigError::Bind(bind_raw.clone()))?;
        let public_url = match get("CLOUDCENSUS_PUBLIC_URL") {
            Some(raw) => Some(normalize_public_url(&raw)?),
            None => None,
        };
        Ok(Self {
            database_url: get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            bind,
            public_url,
            secret_key: get("CLOUDCENSUS_SECRET_KEY"),
            sync_cron: sync_cron(get("CLOUDCENSUS_SYNC_CRON"))?,
            delta_cron: delta_cron(get("CLOUDCENSUS_DELTA_CRON"))?,
            sync_concurrency: number(
                "CLOUDCENSUS_SYNC_CONCURRENCY",
                get("CLOUDCENSUS_SYNC_CONCURRENCY"),
                4,
                64,
            )? as usize,
            sync_threads: number(
                "CLOUDCENSUS_SYNC_THREADS",
                get("CLOUDCENSUS_SYNC_THREADS"),
                crate::sync::runtime::default_threads() as u64,
                64,
            )? as usize,
            sync_lease_secs: number_from(
                "CLOUDCENSUS_SYNC_LEASE_SECS",
                get("CLOUDCENSUS_SYNC_LEASE_SECS"),
                crate::sync::settings::DEFAULT_LEASE_TTL.as_secs(),
                MIN_SYNC_LEASE_SECS,
                3600,
            )?,
            max_body_bytes: number(
                "CLOUDCENSUS_MAX_BODY_BYTES",
                get("CLOUDCENSUS_MAX_BODY_BYTES"),
                crate::api::guard::DEFAULT_MAX_BODY_BYTES as u64,
                1 << 30,
            )? as usize,
            http_timeout_secs: number(
                "CLOUDCENSUS_HTTP_TIMEOUT",
                get("CLOUDCENSUS_HTTP_TIMEOUT"),
                60,
                3600,
            )?,
            read_index: on_off(get("CLOUDCENSUS_READ_INDEX"))?,
            usage_retention_days: match get("CLOUDCENSUS_USAGE_RETENTION_DAYS") {
                None => None,
                raw => Some(number(
                    "CLOUDCENSUS_USAGE_RETENTION_DAYS",
                    raw,
                    0,
                    100 * 366,
                )?),
            },
            metrics_token: get("CLOUDCENSUS_METRICS_TOKEN").map(|t| t.trim().to_string()),
        })
    }
}

fn on_off(raw: Option<String>) -> Result<bool, ConfigError> {
    match raw
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(_) => Err(ConfigError::ReadIndex(raw.unwrap_or_default())),
    }
}

fn sync_cron(raw: Option<String>) -> Result<String, ConfigError> {
    let cron = raw.unwrap_or_else(|| crate::sync::settings::DEFAULT_CRON.to_string());
    parse_cron(cron.trim()).map_err(ConfigError::Cron)?;
    Ok(cron.trim().to_string())
}

/// Unset: every minute (at second 30, away from sweeps on the minute); empty or `off`: never.
fn delta_cron(raw: Option<String>) -> Result<Option<String>, ConfigError> {
    let cron = match raw.as_deref().map(str::trim) {
        None => crate::sync::settings::DEFAULT_DELTA_CRON,
        Some("") | Some("off") => return Ok(None),
        Some(cron) => cron,
    };
    parse_cron(cron).map_err(ConfigError::DeltaCron)?;
    Ok(Some(cron.to_string()))
}

fn normalize_public_url(raw: &str) -> Result<String, ConfigError> {
    let parsed = url::Url::parse(raw.trim()).map_err(|_| ConfigError::PublicUrl(raw.into()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ConfigError::PublicUrl(raw.into()));
    }
    Ok(raw.trim().trim_end_matches('/').to_string())
}

/// The public URL implied by a bound address: wildcard binds are shown as localhost.
pub fn public_url_for(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "localhost".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let cfg = Config::from_lookup(|_| None).unwrap();
        assert_eq!(cfg.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(cfg.bind.to_string(), DEFAULT_BIND);
        assert!(cfg.public_url.is_none() && cfg.secret_key.is_none());
        assert_eq!(cfg.sync_cron, "0 */10 * * * *");
        assert_eq!((cfg.sync_concurrency, cfg.http_timeout_secs), (4, 60));
        assert_eq!(cfg.sync_lease_secs, 60);
        assert!(cfg.read_index);
        assert_eq!(cfg.usage_retention_days, None, "usage history is kept");
    }

    #[test]
    fn usage_retention_is_a_number_of_days() {
        let with = |v: &'static str| {
            Config::from_lookup(move |k| {
                (k == "CLOUDCENSUS_USAGE_RETENTION_DAYS").then(|| v.to_string())
            })
        };
        assert_eq!(with(" 400 ").unwrap().usage_retention_days, Some(400));
        for bad in ["0", "-1", "a year", "99999"] {
            let err = with(bad).unwrap_err().to_string();
            assert!(
                err.contains("CLOUDCENSUS_USAGE_RETENTION_DAYS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_read_index_is_on_or_off() {
        let with = |v: &'static str| {
            Config::from_lookup(move |k| (k == "CLOUDCENSUS_READ_INDEX").then(|| v.to_string()))
        };
        assert!(!with("off").unwrap().read_index);
        assert!(with(" ON ").unwrap().read_index);
        let err = with("maybe").unwrap_err().to_string();
        assert!(err.contains("CLOUDCENSUS_READ_INDEX"), "{err}");
    }

    #[test]
    fn delta_polls_default_to_every_minute_and_switch_off_when_empty() {
        let with =
            |k: &'static str, v: &'static str| move |key: &str| (key == k).then(|| v.to_string());
        let default = Config::from_lookup(|_| None).unwrap();
        assert_eq!(default.delta_cron.as_deref(), Some("30 * * * * *"));
        for off in ["", "off"] {
            let cfg = Config::from_lookup(with("CLOUDCENSUS_DELTA_CRON", off)).unwrap();
            assert_eq!(cfg.delta_cron, None);
        }
        let cfg = Config::from_lookup(with("CLOUDCENSUS_DELTA_CRON", "*/15 * * * * *")).unwrap();
        assert_eq!(cfg.delta_cron.as_deref(), Some("*/15 * * * * *"));
        assert!(Config::from_lookup(with("CLOUDCENSUS_DELTA_CRON", "* * * * *")).is_err());
    }

    #[test]
    fn sync_settings_are_checked() {
        let with = |k: &'static str, v: &'static str| {
            Config::from_lookup(move |key| (key == k).then(|| v.to_string()))
        };
        assert!(
            with("CLOUDCENSUS_SYNC_CRON", "*/5 * * * *")
                .unwrap_err()
                .to_string()
                .contains("6-field")
        );
        assert_eq!(
            with("CLOUDCENSUS_SYNC_CRON", "*/30 * * * * *")
                .unwrap()
                .sync_cron,
            "*/30 * * * * *"
        );
        assert!(with("CLOUDCENSUS_SYNC_CONCURRENCY", "0").is_err());
        assert_eq!(
            with("CLOUDCENSUS_SYNC_LEASE_SECS", " 6 ")
                .unwrap()
                .sync_lease_secs,
            6
        );
        for bad in ["4", "3601", "0", "-5", "1.5", "a minute"] {
            let err = with("CLOUDCENSUS_SYNC_LEASE_SECS", bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("CLOUDCENSUS_SYNC_LEASE_SECS") && err.contains("from 5 to 3600"),
                "{bad}: {err}"
            );
        }
        assert!(
            with("CLOUDCENSUS_HTTP_TIMEOUT", "x")
                .unwrap_err()
                .to_string()
                .contains("CLOUDCENSUS_HTTP_TIMEOUT")
        );
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let bad_bind = Config::from_lookup(|k| (k == "CLOUDCENSUS_BIND").then(|| "nope".into()));
        assert!(
            bad_bind
                .unwrap_err()
                .to_string()
                .contains("CLOUDCENSUS_BIND")
        );
        let bad_url =
            Config::from_lookup(|k| (k == "CLOUDCENSUS_PUBLIC_URL").then(|| "ftp://x".into()));
        assert!(
            bad_url
                .unwrap_err()
                .to_string()
                .contains("CLOUDCENSUS_PUBLIC_URL")
        );
    }

    #[test]
    fn public_url_is_trimmed_and_derived() {
        let cfg = Config::from_lookup(|k| {
            (k == "CLOUDCENSUS_PUBLIC_URL").then(|| "https://cc.example.org/".into())
        })
        .unwrap();
        assert_eq!(cfg.public_url.as_deref(), Some("https://cc.example.org"));
        assert_eq!(
            public_url_for("0.0.0.0:80".parse().unwrap()),
            "http://localhost:80"
        );
        assert_eq!(
            public_url_for("[::1]:8080".parse().unwrap()),
            "http://[::1]:8080"
        );
    }
}
