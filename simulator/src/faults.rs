//! Fault injection per endpoint, and request counters.
use std::collections::HashMap;
use std::time::Duration;

/// The endpoints faults can be aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `POST /v3/auth/tokens`
    KeystoneAuth,
    /// `GET /v3/projects`
    KeystoneProjects,
    /// `GET /v3/registered_limits` and `GET /v3/limits` (a 403 is a token without the
    /// admin role, a 404 a Keystone older than unified limits)
    KeystoneLimits,
    /// `GET /v2/images` (the listing)
    GlanceImages,
    /// `GET /v2/images/{id}/members`, `GET` and `PUT /v2/images/{id}/members/{member}`
    GlanceMembers,
    /// `GET /v2/info/{usage,stores,import}`
    GlanceInfo,
    /// `GET /v2.1/servers/detail`
    NovaServers,
    /// `GET /v2.1/servers/{id}/os-instance-actions`
    NovaInstanceActions,
    /// `GET /v2.1/servers/{id}/os-instance-actions/{request_id}` (one action, with its events)
    NovaInstanceActionEvents,
    /// `GET /v2.1/os-simple-tenant-usage` and `…/os-simple-tenant-usage/{tenant_id}`
    NovaUsage,
    /// `GET /v3/{project_id}/volumes/detail`
    CinderVolumes,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Answer with this status (a JSON error body), with `Retry-After` when given.
    Status { code: u16, retry_after: Option<u64> },
    /// Answer normally, but only after this long (past the client's timeout, say).
    Delay(Duration),
    /// Drop the connection without a complete response.
    ResetConnection,
    /// A 200 whose body is cut off mid-JSON.
    MalformedJson,
    /// Image names begin with a lone UTF-16 surrogate escape (`"\ud800…"`): valid JSON
    /// syntax that no UTF-8 string can hold, as a client with broken UTF-16 handling may have
    /// stored it (Glance lists only).
    LoneSurrogates,
    /// Pages also hold entries that are no image or server: one without an id, a `null`, a
    /// number, and one whose integers are text (Glance and Nova lists).
    JunkEntries,
    /// The `next` link (or `servers_links` next) points back at the page just served.
    NextLoop,
    /// Every page after the first starts with the last image of the previous page.
    DuplicateIds,
    /// Pages hold at most this many items, yet `next` continues the listing (Keystone's
    /// project listing too, which then pages without being asked to).
    ShortPages(usize),
    /// Each token works for this many requests to the target; the next one revokes the token
    /// and answers 401, as an expired token would.
    ExpireTokenAfter(u32),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Requests to let through before the fault starts.
    pub after: u32,
    /// How many requests the fault hits; `None` for all of them.
    pub times: Option<u32>,
}

impl Fault {
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            after: 0,
            times: None,
        }
    }

    pub fn after(mut self, requests: u32) -> Self {
        self.after = requests;
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

#[derive(Debug)]
struct Armed {
    fault: Fault,
    seen: u32,
    fired: u32,
    per_token: HashMap<String, u32>,
}

/// What a handler must do about the request it is serving.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Status { code: u16, retry_after: Option<u64> },
    Delay(Duration),
    Reset,
    Malformed,
    LoneSurrogates,
    JunkEntries,
    NextLoop,
    DuplicateIds,
    ShortPages(usize),
    ExpireToken,
}

#[derive(Debug, Default)]
pub struct FaultBook {
    armed: HashMap<Target, Vec<Armed>>,
    requests: HashMap<Target, u64>,
}

impl FaultBook {
    pub fn inject(&mut self, target: Target, fault: Fault) {
        self.armed.entry(target).or_default().push(Armed {
            fault,
            seen: 0,
            fired: 0,
            per_token: HashMap::new(),
        });
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }

    pub fn requests(&self, target: Target) -> u64 {
        self.requests.get(&target).copied().unwrap_or(0)
    }

    /// Counts a request and returns what the armed faults make of it.
    pub fn on_request(&mut self, target: Target, token: Option<&str>) -> Vec<Action> {
        *self.requests.entry(target).or_default() += 1;
        let mut actions = Vec::new();
        for armed in self.armed.entry(target).or_default().iter_mut() {
            armed.seen += 1;
            if armed.seen <= armed.fault.after {
                continue;
            }
            if armed.fault.times.is_some_and(|t| armed.fired >= t) {
                continue;
            }
            let action = match &armed.fault.kind {
                FaultKind::ExpireTokenAfter(n) => {
                    let used = armed
                        .per_token
                        .entry(token.unwrap_or_default().to_string())
                        .or_default();
                    *used += 1;
                    if *used <= *n {
                        continue;
                    }
                    Action::ExpireToken
                }
                FaultKind::Status { code, retry_after } => Action::Status {
                    code: *code,
                    retry_after: *retry_after,
                },
                FaultKind::Delay(d) => Action::Delay(*d),
                FaultKind::ResetConnection => Action::Reset,
                FaultKind::MalformedJson => Action::Malformed,
                FaultKind::LoneSurrogates => Action::LoneSurrogates,
                FaultKind::JunkEntries => Action::JunkEntries,
                FaultKind::NextLoop => Action::NextLoop,
                FaultKind::DuplicateIds => Action::DuplicateIds,
                FaultKind::ShortPages(n) => Action::ShortPages(*n),
            };
            armed.fired += 1;
            actions.push(action);
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_and_times_bound_a_fault() {
        let mut book = FaultBook::default();
        book.inject(
            Target::GlanceImages,
            Fault::new(FaultKind::ResetConnection).after(1).times(2),
        );
        let hits: Vec<bool> = (0..5)
            .map(|_| !book.on_request(Target::GlanceImages, None).is_empty())
            .collect();
        assert_eq!(hits, [false, true, true, false, false]);
        assert_eq!(book.requests(Target::GlanceImages), 5);
        assert!(book.on_request(Target::NovaServers, None).is_empty());
    }

    #[test]
    fn token_expiry_counts_per_token() {
        let mut book = FaultBook::default();
        book.inject(
            Target::GlanceImages,
            Fault::new(FaultKind::ExpireTokenAfter(1)),
        );
        assert!(book.on_request(Target::GlanceImages, Some("a")).is_empty());
        assert_eq!(
            book.on_request(Target::GlanceImages, Some("a")),
            [Action::ExpireToken]
        );
        assert!(book.on_request(Target::GlanceImages, Some("b")).is_empty());
    }
}
