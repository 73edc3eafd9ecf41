//! Nova's instance action log (`GET /servers/{id}/os-instance-actions`): what was done to a
//! server and when, which dates its status changes more exactly than its `updated` can.
//!
//! Asked at the highest microversion the cloud offers up to 2.66: from 2.21 a deleted
//! server's log answers too, from 2.58 the log pages (`limit`/`marker`, `links`) and takes
//! `changes-since`. Older clouds answer the whole log in one page; `since` is then applied
//! here. A log the policy forbids (403) or a server Nova does not know (404) says so: the
//! caller dates that server the way it would without a log.
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::{OpenStackError, Service};
use super::nova::{
    MICROVERSION_HEADER, Microversion, compute_base, malformed, negotiate_up_to, timestamp,
};
use super::pager::{Listing, Page, Pager};
use super::session::Session;

/// The microversion asked for: paging and `changes-since` (2.58), `changes-before` (2.66).
const WANTED: Microversion = Microversion(2, 66);
/// From this microversion the log pages and takes `changes-since`.
const PAGED: Microversion = Microversion(2, 58);

/// One entry of a server's action log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceAction {
    /// Nova's name for it: `create`, `stop`, `resize`, `confirmResize`, …
    pub action: String,
    pub request_id: String,
    /// When Nova took the request.
    pub start_time: DateTime<Utc>,
}

impl InstanceAction {
    /// An entry without an action name or a readable start time tells nothing: `None`.
    fn from_json(v: &Value) -> Option<Self> {
        Some(Self {
            action: v.get("action")?.as_str()?.to_string(),
            request_id: v
                .get("request_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            start_time: timestamp(v, "start_time")?,
        })
    }
}

/// What Nova answered for one server's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionLog {
    /// Oldest first.
    Actions(Vec<InstanceAction>),
    /// The policy keeps the log from this token (403).
    Forbidden,
    /// Nova does not know the server (404).
    Unknown,
}

/// Reads servers' action logs through one session, at one negotiated microversion.
pub struct ActionLogReader<'a> {
    session: &'a Session,
    base: String,
    microversion: Option<Microversion>,
}

impl<'a> ActionLogReader<'a> {
    /// Negotiates the microversion once, from the compute endpoint's version document.
    pub async fn new(session: &'a Session) -> Result<Self, OpenStackError> {
        let base = compute_base(&session.endpoint("compute").await?);
        let microversion = negotiate_up_to(session, &base, WANTED).await;
        Ok(Self {
            session,
            base,
            microversion,
        })
    }

    /// The server's actions whose record changed at or after `since` (all when `None`).
    pub async fn actions(
        &self,
        server_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<ActionLog, OpenStackError> {
        let paged = self.microversion.is_some_and(|v| v >= PAGED);
        let mut listing = ActionListing {
            reader: self,
            server_id,
            since: since.filter(|_| paged),
            refused: None,
        };
        let mut pager = Pager::new(Service::Nova);
        let mut actions = Vec::new();
        while let Some(page) = pager.next_page(&mut listing).await? {
            actions.extend(page);
        }
        if let Some(refused) = listing.refused {
            return Ok(refused);
        }
        // Before 2.58 the whole log comes: keep what a `changes-since` would have.
        if let Some(since) = since.filter(|_| !paged) {
            actions.retain(|a: &InstanceAction| a.start_time >= since);
        }
        // Nova lists newest first; equal times keep Nova's order reversed.
        actions.reverse();
        actions.sort_by_key(|a| a.start_time);
        Ok(ActionLog::Actions(actions))
    }
}

/// One server's log as the pager reads it.
struct ActionListing<'r, 'a> {
    reader: &'r ActionLogReader<'a>,
    server_id: &'r str,
    since: Option<DateTime<Utc>>,
    /// Nova refused the log (403) or did not know the server (404).
    refused: Option<ActionLog>,
}

impl Listing for ActionListing<'_, '_> {
    type Item = InstanceAction;

    async fn first(&mut self) -> Result<String, OpenStackError> {
        let id: String = url::form_urlencoded::byte_serialize(self.server_id.as_bytes()).collect();
        let mut url = format!("{}/servers/{id}/os-instance-actions", self.reader.base);
        if self.reader.microversion.is_some_and(|v| v >= PAGED) {
            url.push_str(&format!("?limit={}", super::PAGE_LIMIT));
            if let Some(since) = self.since {
                // Nova's query-time form: no offset, UTC.
                let at = since.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f");
                url.push_str(&format!("&changes-since={at}"));
            }
        }
        Ok(url)
    }

    async fn fetch(&mut self, url: &str) -> Result<Page<InstanceAction>, OpenStackError> {
        let headers: Vec<(&str, String)> = self
            .reader
            .microversion
            .map(|v| (MICROVERSION_HEADER, v.to_string()))
            .into_iter()
            .collect();
        let answer: Result<Option<Value>, OpenStackError> = self
            .reader
            .session
            .get_json_with(Service::Nova, url, &[404], &headers)
            .await;
        let page = match answer {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(self.refuse(ActionLog::Unknown)),
            Err(OpenStackError::UpstreamStatus { status: 403, .. }) => {
                return Ok(self.refuse(ActionLog::Forbidden));
            }
            Err(e) => return Err(e),
        };
        let entries = page
            .get("instanceActions")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no `instanceActions` array"))?;
        let items: Vec<InstanceAction> = entries
            .iter()
            .filter_map(InstanceAction::from_json)
            .collect();
        if items.len() < entries.len() {
            tracing::warn!(
                server = self.server_id,
                skipped = entries.len() - items.len(),
                "Nova logged actions without a name or start time"
            );
        }
        Ok(Page {
            items,
            next: next_href(&page),
        })
    }
}

impl ActionListing<'_, '_> {
    /// Ends the listing with Nova's refusal.
    fn refuse(&mut self, why: ActionLog) -> Page<InstanceAction> {
        self.refused = Some(why);
        Page {
            items: Vec::new(),
            next: None,
        }
    }
}

/// The href of the log's `links` rel=next, followed as given.
fn next_href(page: &Value) -> Option<String> {
    page.get("links")?
        .as_array()?
        .iter()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))?
        .get("href")?
        .as_str()
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_need_an_action_and_a_start_time() {
        let a = InstanceAction::from_json(&json!({
            "action": "stop", "request_id": "req-1", "start_time": "2026-11-20T10:00:00.000000"
        }))
        .unwrap();
        assert_eq!(a.action, "stop");
        assert_eq!(a.start_time.to_rfc3339(), "2026-11-20T10:00:00+00:00");
        assert!(InstanceAction::from_json(&json!({"action": "stop"})).is_none());
        assert!(InstanceAction::from_json(&json!({"start_time": "2026-11-20T10:00:00"})).is_none());
        assert!(
            InstanceAction::from_json(&json!({"action": 7, "start_time": "2026-11-20T10:00:00"}))
                .is_none()
        );
    }

    #[test]
    fn next_links_come_from_links() {
        let page = json!({"links": [{"rel": "next", "href": "http://n/v2.1/servers/s/os-instance-actions?marker=r"}]});
        assert_eq!(
            next_href(&page).as_deref(),
            Some("http://n/v2.1/servers/s/os-instance-actions?marker=r")
        );
        assert_eq!(next_href(&json!({"instanceActions": []})), None);
    }
}
