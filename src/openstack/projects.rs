//! Keystone v3 project listing (`GET /v3/projects`): the tenants of a cloud, for discovering
//! them instead of registering each by hand. Keystone's default policy gives it to admins.
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::error::{OpenStackError, PagingFault, Service};
use super::keystone;
use super::pager::{Listing, Page, Pager};
use super::session::Session;

/// One project as Keystone lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeystoneProject {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    /// Keystone omits nothing here, but a missing flag is read as enabled, its default.
    pub enabled: bool,
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct ProjectsPage {
    projects: Vec<Value>,
    #[serde(default)]
    links: Option<Links>,
    /// Keystone cut the listing at its `list_limit`: the rest cannot be had by paging.
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

fn malformed(detail: impl Into<String>) -> OpenStackError {
    OpenStackError::MalformedBody {
        service: Service::Keystone,
        detail: detail.into(),
    }
}

impl KeystoneProject {
    /// A project from its listing entry; `None` without an id (one broken entry must not hide
    /// every other project of the cloud).
    fn from_json(v: &Value) -> Option<Self> {
        let text = |key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| super::storable(s.to_string()))
        };
        Some(Self {
            id: text("id")?,
            name: text("name").unwrap_or_default(),
            domain_id: text("domain_id"),
            enabled: v.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            tags: v
                .get("tags")
                .and_then(Value::as_array)
                .map(|tags| {
                    tags.iter()
                        .filter_map(Value::as_str)
                        .map(|t| super::storable(t.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// The first page's query: Keystone's `tags` filter (projects with all of them) and the
/// domain, when given.
fn first_query(domain_id: Option<&str>, tags: &[String]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(domain) = domain_id {
        query.append_pair("domain_id", domain);
    }
    if !tags.is_empty() {
        query.append_pair("tags", &tags.join(","));
    }
    query.finish()
}

/// The query of `links.next` (empty for a link without one: the unfiltered listing). Only the
/// query is kept, as for Cinder: Keystone builds its links from its own idea of its URL, which
/// behind a proxy may not be reachable from here.
fn next_query(page: &ProjectsPage) -> Option<String> {
    let href = page.links.as_ref()?.next.as_deref()?;
    Some(href.split_once('?').map_or("", |(_, q)| q).to_string())
}

/// The cloud's projects, in `domain_id` when given and carrying every one of `tags` (none:
/// no tag filter), disabled ones included (their `enabled` says so). Follows `links.next`
/// while Keystone sets it (stock Keystone does not page this listing; a proxy or a future
/// release may); a chain that comes back to a page already read is an error, and so is a
/// listing Keystone cut at its `list_limit` (`truncated`), which would otherwise pass for
/// complete. A token without the rights gets Keystone's 403 as an error.
pub async fn list_projects(
    session: &Session,
    domain_id: Option<&str>,
    tags: &[String],
) -> Result<Vec<KeystoneProject>, OpenStackError> {
    let mut listing = ProjectListing {
        session,
        list_url: format!("{}/projects", keystone::v3_base(session.auth_url())),
        first_query: first_query(domain_id, tags),
        skipped: 0,
    };
    let mut pager = Pager::new(Service::Keystone);
    let mut projects = Vec::new();
    let mut ids = HashSet::new();
    while let Some(page) = pager.next_page(&mut listing).await? {
        projects.extend(page.into_iter().filter(|p| ids.insert(p.id.clone())));
    }
    if listing.skipped > 0 {
        tracing::warn!(
            skipped = listing.skipped,
            "Keystone listed projects without an id"
        );
    }
    Ok(projects)
}

/// How the pager reads `/v3/projects`: requests are queries (empty: the bare listing).
struct ProjectListing<'a> {
    session: &'a Session,
    /// `{identity}/v3/projects`, without a query.
    list_url: String,
    first_query: String,
    /// Entries without an id left out so far.
    skipped: usize,
}

impl Listing for ProjectListing<'_> {
    type Item = KeystoneProject;

    async fn first(&mut self) -> Result<String, OpenStackError> {
        Ok(self.first_query.clone())
    }

    async fn fetch(&mut self, query: &str) -> Result<Page<KeystoneProject>, OpenStackError> {
        let url = if query.is_empty() {
            self.list_url.clone()
        } else {
            format!("{}?{query}", self.list_url)
        };
        let page: ProjectsPage = self
            .session
            .get_json(Service::Keystone, &url, &[])
            .await?
            .ok_or_else(|| malformed("empty response"))?;
        // A cut listing would pass for the cloud's whole set of projects, and a project left
        // out for one that is gone.
        if page.truncated {
            return Err(OpenStackError::Paging {
                service: Service::Keystone,
                fault: PagingFault::Truncated,
            });
        }
        let listed = page.projects.len();
        let projects: Vec<KeystoneProject> = page
            .projects
            .iter()
            .filter_map(KeystoneProject::from_json)
            .collect();
        self.skipped += listed - projects.len();
        Ok(Page {
            items: projects,
            next: next_query(&page),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projects_parse_with_defaults_and_need_an_id() {
        let p = KeystoneProject::from_json(&json!({
            "id": "p1", "name": "web", "domain_id": "default", "enabled": false,
            "tags": ["billing", 7, "prod"], "is_domain": false
        }))
        .unwrap();
        assert_eq!(
            p,
            KeystoneProject {
                id: "p1".into(),
                name: "web".into(),
                domain_id: Some("default".into()),
                enabled: false,
                tags: vec!["billing".into(), "prod".into()],
            }
        );
        let bare = KeystoneProject::from_json(&json!({"id": "p2"})).unwrap();
        assert!(bare.enabled && bare.tags.is_empty() && bare.domain_id.is_none());
        assert!(KeystoneProject::from_json(&json!({"name": "no id"})).is_none());
        assert!(KeystoneProject::from_json(&json!({"id": ""})).is_none());
    }

    #[test]
    fn queries_carry_the_filters_and_next_links_only_their_query() {
        assert_eq!(first_query(None, &[]), "");
        assert_eq!(
            first_query(Some("d 1"), &["a".into(), "b&c".into()]),
            "domain_id=d+1&tags=a%2Cb%26c"
        );
        let page = |next: Value| -> ProjectsPage {
            serde_json::from_value(json!({"projects": [], "links": {"self": "x", "next": next}}))
                .unwrap()
        };
        assert_eq!(next_query(&page(Value::Null)), None);
        assert_eq!(
            next_query(&page(json!(
                "http://internal:5000/v3/projects?limit=2&marker=m"
            )))
            .as_deref(),
            Some("limit=2&marker=m")
        );
        assert_eq!(
            next_query(&page(json!("http://k/v3/projects"))).as_deref(),
            Some("")
        );
    }
}
