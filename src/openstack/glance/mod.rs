//! Glance v2: image listing (paged, both visible and hidden images) and the info endpoints.
use serde::Deserialize;
use serde_json::Value;

mod image;

pub use image::{GONE_STATUSES, GlanceImage};
use image::{ListedImage, malformed};

use super::PAGE_LIMIT;
use super::error::{OpenStackError, Service};
use super::pager::{Listing, Page, Pager};
use super::session::Session;

/// One page of `GET /v2/images`.
#[derive(Deserialize)]
struct ImagesPage {
    images: Vec<ListedImage>,
    #[serde(default)]
    next: Option<String>,
}

/// `{image endpoint}/v2`, whether or not the catalog URL already carries the version.
pub fn api_base(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    let base = base.strip_suffix("/v2").unwrap_or(base);
    format!("{base}/v2")
}

/// Pages through `/v2/images`: first the visible images, then a second pass for the hidden
/// ones (`os_hidden=true`), following `next` until it is absent.
pub struct ImagePager<'a> {
    listing: ImageListing<'a>,
    pager: Pager,
}

/// The listing's two passes: hidden images (`os_hidden`) are only listed when asked for.
const PASSES: [&str; 2] = [
    "visibility=all&member_status=all",
    "visibility=all&member_status=all&os_hidden=true",
];

/// Which of a listing's images: the visible ones, the hidden ones (`os_hidden=true`), or both
/// (two passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passes {
    pub visible: bool,
    pub hidden: bool,
}

impl<'a> ImagePager<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self::with_filter(session, String::new())
    }

    /// Only the images updated after `since` (an RFC 3339 time in the cloud's own clock),
    /// oldest change first: what changed since a delta poll's cursor. Both passes.
    pub fn updated_after(session: &'a Session, since: &str) -> Self {
        let since: String = url::form_urlencoded::byte_serialize(since.as_bytes()).collect();
        Self::with_filter(
            session,
            format!("&updated_at=gt:{since}&sort_key=updated_at&sort_dir=asc"),
        )
    }

    /// The shared images of other projects whose membership by the token's project has
    /// `status` (`pending`, `rejected`): Glance's `visibility=shared&member_status=…`, in the
    /// passes asked for. A member's listing with `member_status=all` does not say the status.
    pub fn shared_with_status(session: &'a Session, status: &str, passes: Passes) -> Self {
        let query = format!("visibility=shared&member_status={status}");
        let mut queries = Vec::new();
        if passes.visible {
            queries.push(query.clone());
        }
        if passes.hidden {
            queries.push(format!("{query}&os_hidden=true"));
        }
        Self::of(session, queries, String::new())
    }

    fn with_filter(session: &'a Session, filter: String) -> Self {
        Self::of(session, PASSES.map(String::from).to_vec(), filter)
    }

    fn of(session: &'a Session, passes: Vec<String>, filter: String) -> Self {
        Self {
            listing: ImageListing {
                session,
                passes,
                filter,
                base: None,
                pass: 0,
            },
            pager: Pager::new(Service::Glance),
        }
    }

    /// The next page of images (`deleted`/`pending_delete` ones included: the caller skips
    /// them), or `None` when every pass is complete.
    pub async fn next_page(&mut self) -> Result<Option<Vec<GlanceImage>>, OpenStackError> {
        loop {
            if self.listing.pass >= self.listing.passes.len() {
                return Ok(None);
            }
            if let Some(images) = self.pager.next_page(&mut self.listing).await? {
                return Ok(Some(images));
            }
            if self.listing.pass + 1 >= self.listing.passes.len() {
                return Ok(None);
            }
            self.listing.pass += 1;
            self.pager.next_pass();
        }
    }
}

/// How the pager reads `/v2/images`: requests are queries, pass by pass.
struct ImageListing<'a> {
    session: &'a Session,
    /// Each pass's query ([`PASSES`] for a whole listing).
    passes: Vec<String>,
    /// Added to each pass's query: the `updated_at` filter of a delta poll.
    filter: String,
    /// `{image endpoint}/v2/images`, looked up on the first page.
    base: Option<String>,
    /// The index in `passes` of the pass being read.
    pass: usize,
}

impl ImageListing<'_> {
    /// The listing's URL without a query, from the catalog the first time.
    async fn base(&mut self) -> Result<String, OpenStackError> {
        if let Some(base) = &self.base {
            return Ok(base.clone());
        }
        let base = format!(
            "{}/images",
            api_base(&self.session.endpoint("image").await?)
        );
        self.base = Some(base.clone());
        Ok(base)
    }
}

impl Listing for ImageListing<'_> {
    type Item = GlanceImage;

    async fn first(&mut self) -> Result<String, OpenStackError> {
        self.base().await?;
        Ok(format!(
            "limit={PAGE_LIMIT}&{}{}",
            self.passes[self.pass], self.filter
        ))
    }

    async fn fetch(&mut self, query: &str) -> Result<Page<GlanceImage>, OpenStackError> {
        let url = format!("{}?{query}", self.base().await?);
        let page: ImagesPage = self
            .session
            .get_json(Service::Glance, &url, &[])
            .await?
            .ok_or_else(|| malformed("empty response"))?;
        let listed = page.images.len();
        let images: Vec<GlanceImage> = page.images.into_iter().filter_map(|e| e.0).collect();
        if images.len() < listed {
            // Counted for the operator; the rest of the page is synced.
            tracing::warn!(
                skipped = listed - images.len(),
                "Glance listed entries that are not images (no id, or not an object)"
            );
        }
        Ok(Page {
            items: images,
            next: next_query(page.next.as_deref())?,
        })
    }

    /// A marker image deleted while we page: Glance answers 400.
    fn marker_gone(&self, err: &OpenStackError) -> bool {
        err.status() == Some(400)
    }
}

/// The query of a page's `next` link. The link is root-relative and lacks the endpoint's
/// path prefix: only its query is kept.
fn next_query(next: Option<&str>) -> Result<Option<String>, OpenStackError> {
    let Some(next) = next else {
        return Ok(None);
    };
    match next.split_once('?').map(|(_, q)| q) {
        Some(q) if !q.is_empty() => Ok(Some(q.to_string())),
        _ => Err(malformed("a `next` link without a query")),
    }
}

/// The status of a project's membership of a shared image (`accepted`, `pending`,
/// `rejected`), or `None` when the project is not a member.
pub async fn member_status(
    session: &Session,
    image_id: &str,
    project_id: &str,
) -> Result<Option<String>, OpenStackError> {
    let url = format!(
        "{}/images/{image_id}/members/{project_id}",
        api_base(&session.endpoint("image").await?)
    );
    let member: Option<Value> = session.get_json(Service::Glance, &url, &[403, 404]).await?;
    Ok(member.map(|m| {
        m.get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }))
}

/// One membership of a shared image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageMember {
    /// The member project's id.
    pub member_id: String,
    /// `accepted`, `pending` or `rejected`.
    pub status: String,
}

#[derive(Deserialize)]
struct MembersPage {
    members: Vec<Value>,
}

/// The memberships of a shared image, every one for its owner or an admin, only the caller's
/// own for a member. Empty when Glance refuses the listing: 403 for an image that is not
/// `shared` (Glance: "Only shared images have members"), 404 for one the caller cannot see
/// (or that is gone); either way the image has no members this caller may know of. Entries
/// without a member id are left out.
pub async fn members(
    session: &Session,
    image_id: &str,
) -> Result<Vec<ImageMember>, OpenStackError> {
    let url = format!(
        "{}/images/{image_id}/members",
        api_base(&session.endpoint("image").await?)
    );
    let Some(page) = session
        .get_json::<MembersPage>(Service::Glance, &url, &[403, 404])
        .await?
    else {
        return Ok(Vec::new());
    };
    let text = |m: &Value, key: &str| {
        m.get(key)
            .and_then(Value::as_str)
            .map(|s| super::storable(s.to_string()))
    };
    Ok(page
        .members
        .iter()
        .filter_map(|m| {
            Some(ImageMember {
                member_id: text(m, "member_id").filter(|id| !id.is_empty())?,
                status: text(m, "status").unwrap_or_default(),
            })
        })
        .collect())
}

/// `/v2/info/usage`, `/v2/info/stores`, `/v2/info/import`; each `None` where the cloud does not
/// have it (older clouds answer 404 or 403).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GlanceInfo {
    pub usage: Option<Value>,
    pub stores: Option<Value>,
    pub import_methods: Option<Value>,
}

pub async fn info(session: &Session) -> Result<GlanceInfo, OpenStackError> {
    let base = format!("{}/info", api_base(&session.endpoint("image").await?));
    let absent = [403, 404, 501];
    let usage: Option<Value> = session
        .get_json(Service::Glance, &format!("{base}/usage"), &absent)
        .await?;
    let stores: Option<Value> = session
        .get_json(Service::Glance, &format!("{base}/stores"), &absent)
        .await?;
    let import: Option<Value> = session
        .get_json(Service::Glance, &format!("{base}/import"), &absent)
        .await?;
    Ok(GlanceInfo {
        usage: usage.and_then(|v| v.get("usage").cloned()),
        stores: stores.and_then(|v| v.get("stores").cloned()),
        import_methods: import.and_then(|v| v.get("import-methods").cloned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_entries_leave_the_rest_of_the_page() {
        let page: ImagesPage = serde_json::from_str(
            r#"{"images": [
                {"id": "a", "name": "fine"},
                {"name": "no id"},
                {"id": "", "name": "empty id"},
                null, 7, "text", [1, 2],
                {"id": "b", "min_disk": "ten", "min_ram": 1.5, "size": {"x": 1}},
                {"id": "c"}
            ], "next": null}"#,
        )
        .unwrap();
        let ids: Vec<String> = page
            .images
            .into_iter()
            .filter_map(|e| e.0)
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn member_pages_need_a_members_array() {
        let page: MembersPage = serde_json::from_str(
            r#"{"members": [{"member_id": "p", "status": "accepted"}, 7], "schema": "/v2/schemas/members"}"#,
        )
        .unwrap();
        assert_eq!(page.members.len(), 2);
        assert!(serde_json::from_str::<MembersPage>(r#"{"schema": "x"}"#).is_err());
    }

    #[test]
    fn next_links_keep_only_their_query() {
        assert_eq!(
            next_query(Some("/v2/images?limit=2&marker=m"))
                .unwrap()
                .as_deref(),
            Some("limit=2&marker=m")
        );
        assert_eq!(next_query(None).unwrap(), None);
        for bad in ["/v2/images", "/v2/images?"] {
            let err = next_query(Some(bad)).unwrap_err();
            assert!(
                matches!(err, OpenStackError::MalformedBody { .. }),
                "{err:?}"
            );
        }
    }

    #[test]
    fn api_base_handles_versioned_and_unversioned_endpoints() {
        assert_eq!(api_base("http://g:9292"), "http://g:9292/v2");
        assert_eq!(api_base("http://g/image/"), "http://g/image/v2");
        assert_eq!(api_base("http://g:9292/v2"), "http://g:9292/v2");
    }
}
