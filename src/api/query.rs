//! Reading query parameters from the raw query string, so repeated parameters are all seen
//! (the `QueryParams` types of `params` are built on it).
use uuid::Uuid;

use super::errors::ApiError;
use super::validate::Validator;
use crate::catalog::paging::PageRequest;
use crate::catalog::parse_uuid;

pub struct RawQuery {
    pairs: Vec<(String, String)>,
}

impl RawQuery {
    pub fn of(req: &poem::Request) -> Self {
        let pairs = req
            .uri()
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// Every non-empty value of `key` (an empty value means "no filter", as in django-filter).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn page(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::parse(
            self.first("page"),
            self.first("page_size"),
        )?)
    }

    pub fn uuids(&self, key: &str, v: &mut Validator) -> Vec<Uuid> {
        self.all(key)
            .into_iter()
            .filter_map(|raw| {
                let parsed = parse_uuid(raw);
                if parsed.is_none() {
                    v.add(key, format!("“{raw}” is not a valid UUID."));
                }
                parsed
            })
            .collect()
    }

    /// Uuids taken from object URLs such as `.../api/service-settings/<uuid>/`.
    pub fn url_uuids(&self, key: &str, v: &mut Validator) -> Vec<Uuid> {
        self.all(key)
            .into_iter()
            .filter_map(|raw| {
                let parsed = uuid_from_url(raw);
                if parsed.is_none() {
                    v.add(key, "Invalid hyperlink - No URL match.");
                }
                parsed
            })
            .collect()
    }

    /// The last value of a boolean parameter, in the spellings django-filter accepts.
    pub fn bool(&self, key: &str, v: &mut Validator) -> Option<bool> {
        let raw = *self.all(key).last()?;
        let parsed = parse_bool(raw);
        if parsed.is_none() {
            v.add(key, "Select a valid choice. Use true or false.");
        }
        parsed
    }
}

pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The uuid in the last non-empty path segment of an object URL (absolute or a bare path).
pub fn uuid_from_url(raw: &str) -> Option<Uuid> {
    let path = match url::Url::parse(raw) {
        Ok(u) => u.path().to_string(),
        Err(_) => raw.split(['?', '#']).next().unwrap_or_default().to_string(),
    };
    path.split('/')
        .rev()
        .find(|s| !s.is_empty())
        .and_then(parse_uuid)
}

/// Like `uuid_from_url`, but also says which collection the URL names.
pub fn collection_and_uuid(raw: &str) -> Option<(String, Uuid)> {
    let path = url::Url::parse(raw)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| raw.to_string());
    let mut segments = path.split('/').filter(|s| !s.is_empty()).rev();
    let uuid = parse_uuid(segments.next()?)?;
    Some((segments.next()?.to_string(), uuid))
}

/// An instant as RFC 3339 or a date (midnight UTC).
pub fn parse_time(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let raw = raw.trim();
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| chrono::Utc.from_utc_datetime(&d))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_come_out_of_urls() {
        let u = Uuid::new_v4();
        let hex = u.simple().to_string();
        for raw in [
            format!("http://h:1/api/service-settings/{hex}/"),
            format!("http://h:1/api/service-settings/{u}"),
            format!("/api/service-settings/{hex}/?x=1"),
            hex.clone(),
        ] {
            assert_eq!(uuid_from_url(&raw), Some(u), "{raw}");
        }
        assert_eq!(uuid_from_url("http://h/api/service-settings/nope/"), None);
        assert_eq!(
            collection_and_uuid(&format!("http://h/api/openstack-tenants/{hex}/")),
            Some(("openstack-tenants".into(), u))
        );
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
