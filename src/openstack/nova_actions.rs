//! Nova's instance action log (`GET /servers/{id}/os-instance-actions`): what was done to a
//! server and when, which dates its status changes more exactly than its `updated` can.
//!
//! Asked at the highest microversion the cloud offers up to 2.66: from 2.21 a deleted
//! server's log answers too, from 2.58 the log pages (`limit`/`marker`, `links`) and takes
//! `changes-since`. Older clouds answer the whole log in one page; `since` is then applied
//! here. A log the policy forbids (403) or a server Nova does not know (404) says so: the
//! caller dates that server the way it would without a log.
//!
//! One action's events (`GET …/os-instance-actions/{request_id}`) say when the compute host
//! finished it, and whether it failed. Nova's default policy shows them to admins at every
//! microversion and to everyone else from 2.51 on ([`ActionLogReader::may_read_events`]).
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
/// From this microversion Nova's default policy shows an action's events to any reader.
const EVENTS_FOR_ALL: Microversion = Microversion(2, 51);

/// One entry of a server's action log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceAction {
    /// Nova's name for it: `create`, `stop`, `resize`, `confirmResize`, …
    pub action: String,
    pub request_id: String,
    /// When Nova took the request.
    pub start_time: DateTime<Utc>,
    /// How it ended, where its events were read (`None`: not read, or it has none).
    pub outcome: Option<Outcome>,
}

/// What an action's events tell of its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every event finished without error; the last finished then.
    Finished(DateTime<Utc>),
    /// An event is still running (no finish time, or no result yet).
    Running,
    /// An event ended with `Error`.
    Failed,
}

impl Outcome {
    /// The outcome of an action with these events; `None` when it has none.
    pub fn of(events: &[ActionEvent]) -> Option<Self> {
        if events.is_empty() {
            return None;
        }
        if events.iter().any(|e| e.result == Some(EventResult::Error)) {
            return Some(Self::Failed);
        }
        let mut last = None;
        for e in events {
            match (e.finish_time, e.result) {
                (Some(t), Some(EventResult::Success)) => last = last.max(Some(t)),
                _ => return Some(Self::Running),
            }
        }
        last.map(Self::Finished)
    }
}

/// One event of an action: a step the compute service took for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionEvent {
    /// Nova's name for it: `compute_stop_instance`, `compute_finish_resize`, …
    pub event: String,
    /// `None` while it runs.
    pub finish_time: Option<DateTime<Utc>>,
    /// `None` while it runs (or for a result Nova does not write).
    pub result: Option<EventResult>,
}

/// How an event ended: Nova writes `Success`, or `Error` when the step raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventResult {
    Success,
    Error,
}

impl ActionEvent {
    /// `None` for an entry that is no object.
    fn from_json(v: &Value) -> Option<Self> {
        v.as_object()?;
        Some(Self {
            event: v
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            finish_time: timestamp(v, "finish_time"),
            result: match v.get("result").and_then(Value::as_str) {
                Some("Success") => Some(EventResult::Success),
                Some("Error") => Some(EventResult::Error),
                _ => None,
            },
        })
    }
}

/// What Nova answered for one action's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionEvents {
    /// In Nova's order (the list may be empty).
    Events(Vec<ActionEvent>),
    /// The action came without `events`: the policy shows them to others only.
    Hidden,
    /// The policy keeps the action from this token (403).
    Forbidden,
    /// Nova does not know the server or the action (404).
    Unknown,
}

impl ActionEvents {
    fn from_json(v: &Value) -> Result<Self, OpenStackError> {
        let action = v
            .get("instanceAction")
            .filter(|a| a.is_object())
            .ok_or_else(|| malformed("no `instanceAction` object"))?;
        let Some(events) = action.get("events") else {
            return Ok(Self::Hidden);
        };
        let entries = events
            .as_array()
            .ok_or_else(|| malformed("`events` is not an array"))?;
        let events: Vec<ActionEvent> = entries.iter().filter_map(ActionEvent::from_json).collect();
        if events.len() < entries.len() {
            // The entry that cannot be read might be the event still running or failed: the
            // others alone would tell a wrong end.
            return Err(malformed("an action event that is no object"));
        }
        Ok(Self::Events(events))
    }
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
            outcome: None,
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

    /// Whether Nova's default policy shows action events to this token: an admin's at every
    /// microversion, anyone's from 2.51 on.
    pub fn may_read_events(&self, admin: bool) -> bool {
        admin || self.microversion.is_some_and(|v| v >= EVENTS_FOR_ALL)
    }

    /// The events of the server's action `request_id`.
    pub async fn events(
        &self,
        server_id: &str,
        request_id: &str,
    ) -> Result<ActionEvents, OpenStackError> {
        let id: String = url::form_urlencoded::byte_serialize(server_id.as_bytes()).collect();
        let req: String = url::form_urlencoded::byte_serialize(request_id.as_bytes()).collect();
        let url = format!("{}/servers/{id}/os-instance-actions/{req}", self.base);
        let answer: Result<Option<Value>, OpenStackError> = self
            .session
            .get_json_with(Service::Nova, &url, &[404], &self.headers())
            .await;
        match answer {
            Ok(Some(body)) => ActionEvents::from_json(&body),
            Ok(None) => Ok(ActionEvents::Unknown),
            Err(OpenStackError::UpstreamStatus { status: 403, .. }) => Ok(ActionEvents::Forbidden),
            Err(e) => Err(e),
        }
    }

    /// The microversion header, when one was negotiated.
    fn headers(&self) -> Vec<(&'static str, String)> {
        self.microversion
            .map(|v| (MICROVERSION_HEADER, v.to_string()))
            .into_iter()
            .collect()
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
        let headers = self.reader.headers();
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

    fn event(finish: Option<&str>, result: Option<&str>) -> Value {
        json!({"event": "compute_stop_instance", "start_time": "2026-11-20T10:00:00.000000",
               "finish_time": finish, "result": result})
    }

    fn outcome(events: Vec<Value>) -> Option<Outcome> {
        match ActionEvents::from_json(
            &json!({"instanceAction": {"action": "stop", "events": events}}),
        ) {
            Ok(ActionEvents::Events(events)) => Outcome::of(&events),
            other => panic!("{other:?}"),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn an_action_finishes_when_its_last_event_does() {
        assert_eq!(
            outcome(vec![
                event(Some("2026-11-20T10:05:00.000000"), Some("Success")),
                event(Some("2026-11-20T11:00:00.000000"), Some("Success")),
                event(Some("2026-11-20T10:30:00.000000"), Some("Success")),
            ]),
            Some(Outcome::Finished(t("2026-11-20T11:00:00Z")))
        );
        assert_eq!(outcome(vec![]), None, "no events: nothing to tell");
    }

    #[test]
    fn an_error_fails_the_action_and_an_unfinished_event_keeps_it_running() {
        let done = event(Some("2026-11-20T10:05:00.000000"), Some("Success"));
        let failed = event(Some("2026-11-20T10:06:00.000000"), Some("Error"));
        let running = event(None, None);
        assert_eq!(
            outcome(vec![done.clone(), failed.clone(), running.clone()]),
            Some(Outcome::Failed),
            "an error, even with another event still running"
        );
        assert_eq!(outcome(vec![done.clone(), running]), Some(Outcome::Running));
        // A finish without a result, or a result Nova does not write: not known to be done.
        assert_eq!(
            outcome(vec![done.clone(), event(Some("2026-11-20T10:07:00"), None)]),
            Some(Outcome::Running)
        );
        assert_eq!(
            outcome(vec![done, event(Some("2026-11-20T10:07:00"), Some("Done"))]),
            Some(Outcome::Running)
        );
    }

    #[test]
    fn events_the_policy_hides_or_that_cannot_be_read_are_told_apart() {
        assert_eq!(
            ActionEvents::from_json(&json!({"instanceAction": {"action": "stop"}})).unwrap(),
            ActionEvents::Hidden,
            "no `events` key: a non-admin before 2.51"
        );
        let bad = [
            json!({"instanceAction": {"action": "stop", "events": [event(None, None), 7]}}),
            json!({"instanceAction": {"action": "stop", "events": {}}}),
            json!({"instanceActions": []}),
        ];
        for body in bad {
            assert!(
                matches!(
                    ActionEvents::from_json(&body),
                    Err(OpenStackError::MalformedBody { .. })
                ),
                "{body}"
            );
        }
        // Names and tracebacks are not needed; admins' extra fields are ignored.
        let with_extras = json!({"instanceAction": {"events": [{
            "finish_time": "2026-11-20T10:07:00.000000", "result": "Success",
            "traceback": null, "host": "c1", "hostId": "h", "details": null}]}});
        let Ok(ActionEvents::Events(events)) = ActionEvents::from_json(&with_extras) else {
            panic!("events")
        };
        assert_eq!(
            events,
            [ActionEvent {
                event: String::new(),
                finish_time: Some(t("2026-11-20T10:07:00Z")),
                result: Some(EventResult::Success),
            }]
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
