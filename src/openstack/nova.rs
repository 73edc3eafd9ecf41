//! Nova: server listing (paged through `servers_links`).
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::{OpenStackError, Service};
use super::session::Session;

const MAX_PAGES: u32 = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub struct NovaServer {
    pub id: String,
    pub name: String,
    pub status: String,
    /// `None` for boot-from-volume servers (Nova sends `"image": ""`).
    pub image_id: Option<String>,
    pub created: Option<DateTime<Utc>>,
}

fn malformed(detail: impl Into<String>) -> OpenStackError {
    OpenStackError::MalformedBody {
        service: Service::Nova,
        detail: detail.into(),
    }
}

impl NovaServer {
    pub fn from_json(v: &Value) -> Result<Self, OpenStackError> {
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a server has no id"))?
            .to_string();
        let text = |key: &str| {
            super::storable(
                v.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        let image_id = v
            .get("image")
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| super::storable(s.to_string()));
        Ok(Self {
            name: text("name"),
            status: text("status"),
            created: v
                .get("created")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc)),
            image_id,
            id: super::storable(id),
        })
    }
}

/// The compute API root. Catalogs usually give `/v2.1` or `/v2.1/{project_id}` already; an
/// unversioned endpoint gets `/v2.1`.
pub fn compute_base(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    let versioned = base
        .split('/')
        .skip(3)
        .any(|segment| segment == "v2" || segment == "v2.1");
    if versioned {
        base.to_string()
    } else {
        format!("{base}/v2.1")
    }
}

pub struct ServerPager<'a> {
    session: &'a Session,
    next_url: Option<String>,
    seen: HashSet<String>,
    started: bool,
    pages: u32,
}

impl<'a> ServerPager<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self {
            session,
            next_url: None,
            seen: HashSet::new(),
            started: false,
            pages: 0,
        }
    }

    pub async fn next_page(&mut self) -> Result<Option<Vec<NovaServer>>, OpenStackError> {
        let url = match (self.started, self.next_url.take()) {
            (false, _) => {
                let base = compute_base(&self.session.endpoint("compute").await?);
                format!("{base}/servers/detail?limit={}", super::PAGE_LIMIT)
            }
            (true, Some(next)) => next,
            (true, None) => return Ok(None),
        };
        self.started = true;
        self.pages += 1;
        if !self.seen.insert(url.clone()) || self.pages > MAX_PAGES {
            return Err(OpenStackError::Paging {
                service: Service::Nova,
                detail: "servers_links loops back to a page already read".into(),
            });
        }
        let page: Value = self
            .session
            .get_json(Service::Nova, &url, &[])
            .await?
            .ok_or_else(|| malformed("empty response"))?;
        let servers = page
            .get("servers")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no `servers` array"))?
            .iter()
            .map(NovaServer::from_json)
            .collect::<Result<Vec<_>, _>>()?;
        self.next_url = page
            .get("servers_links")
            .and_then(Value::as_array)
            .and_then(|links| {
                links
                    .iter()
                    .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
            })
            .and_then(|l| l.get("href").and_then(Value::as_str))
            .map(String::from);
        Ok(Some(servers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compute_urls_get_a_version_only_when_they_lack_one() {
        assert_eq!(compute_base("http://n:8774/v2.1/"), "http://n:8774/v2.1");
        assert_eq!(
            compute_base("http://n:8774/v2.1/abc123"),
            "http://n:8774/v2.1/abc123"
        );
        assert_eq!(
            compute_base("http://n/compute/v2/abc"),
            "http://n/compute/v2/abc"
        );
        assert_eq!(compute_base("http://n:8774"), "http://n:8774/v2.1");
        assert_eq!(
            compute_base("http://v2.1.example/compute"),
            "http://v2.1.example/compute/v2.1"
        );
    }

    #[test]
    fn boot_from_volume_servers_have_no_image() {
        let s = NovaServer::from_json(&json!({"id": "s", "name": "vm", "status": "ACTIVE", "image": "", "created": "2025-01-01T00:00:00Z"})).unwrap();
        assert_eq!(s.image_id, None);
        let s = NovaServer::from_json(&json!({"id": "s", "image": {"id": "img", "links": []}}))
            .unwrap();
        assert_eq!(s.image_id.as_deref(), Some("img"));
    }
}
