//! Configuration from the environment (and `.env`, loaded by `main`).
use std::net::SocketAddr;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://cloudcensus.db?mode=rwc";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("CLOUDCENSUS_BIND={0:?} is not an address such as 127.0.0.1:8080")]
    Bind(String),
    #[error("CLOUDCENSUS_PUBLIC_URL={0:?} must be an absolute http(s) URL")]
    PublicUrl(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    /// Base of every absolute `url` field; `None` means "derive it from the bound address".
    pub public_url: Option<String>,
    /// Passphrase for credential encryption. Deliberately not printed by `Debug` users.
    pub secret_key: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok().filter(|v| !v.trim().is_empty()))
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
        })
    }
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
