//! An instance's life as the syncs see it: intervals in one status, at one billed size,
//! counting for one image under one name. A sync sees a server's state now, so it dates each
//! change it finds, and records how: the server's `updated` when the status or size changed
//! since the last sync (clamped into the window between the two syncs, since `updated` also
//! moves for changes that are not status changes), `launched_at` for the first `ACTIVE`,
//! `terminated_at` for the end, the sync itself for a rename of the image. Where the sync read
//! the server's action log (see [`super::action_log`]), the actions date every change since
//! the last sync, not only the last one ([`replay`]), each by when its events finished where
//! the sync read them, else by when Nova took the request. A server seen for the first time
//! is dated the same way, in the same window unless the window is [`Window::unbounded`].
//! Only changes are recorded: an idle re-sync adds nothing.
mod replay;

use chrono::{DateTime, Utc};

use crate::catalog::inventory::{Boundary, InstanceRecord, IntervalEdit, KnownInstance, Stint};
use crate::catalog::{DatedBy, ServerStatus};
use crate::openstack::nova_actions::InstanceAction;
#[cfg(test)]
use crate::openstack::nova_actions::Outcome;
use replay::{RESETS_LAUNCH, Step};

/// Between the tenant's last successful sync and this one: a change seen now happened then,
/// and so did the whole life of a server seen for the first time (that sync's listing was
/// complete). Every boundary a sync records lies in the window, so a period every tenant has
/// synced past never changes; without `since` (a tenant's first sync, see
/// [`Window::unbounded`]) a life may reach back before it.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
}

impl Window {
    /// `t` dated `by`, moved into the window; a time outside it (or none) leaves the sync as
    /// all that dates the change.
    fn clamp(&self, t: Option<DateTime<Utc>>, by: DatedBy) -> Boundary {
        let Some(t) = t else {
            return self.seen_now();
        };
        if t > self.until {
            return self.seen_now();
        }
        match self.since {
            Some(since) if t < since => Boundary {
                at: since,
                by: DatedBy::Sync,
            },
            _ => Boundary { at: t, by },
        }
    }

    /// The end of the window: when this sync saw it.
    fn seen_now(&self) -> Boundary {
        Boundary {
            at: self.until,
            by: DatedBy::Sync,
        }
    }

    /// The same window without its lower side: for a life the catalog has never recorded
    /// although it may be long (a tenant's first sync, an instance recorded before the
    /// history existed, a tenant whose last sync could not list servers), which keeps the
    /// history Nova's times tell, before the previous sync included.
    pub fn unbounded(&self) -> Self {
        Self {
            since: None,
            until: self.until,
        }
    }
}

/// The disk an instance is billed for: its boot volume's size when it booted from a volume
/// (the flavor's root disk is not used then), else the flavor's root plus ephemeral disk.
/// Swap is not counted. Unknown when the flavor's (or volume's) size is.
pub fn billed_disk_gib(r: &InstanceRecord) -> Option<i64> {
    // Booted from a volume: Nova names no image. Without Cinder the volume's size is unknown.
    if r.boot_volume_id.is_some() || r.image_backend_id.is_none() {
        return r.boot_volume_gib;
    }
    r.disk_gib
        .map(|root| root.saturating_add(r.ephemeral_gib.unwrap_or(0)))
}

/// What an interval is billed at and counts for: a change of any of it starts a new one.
#[derive(Clone, Copy, PartialEq)]
struct Terms<'a> {
    vcpus: Option<i32>,
    ram_mib: Option<i64>,
    disk_gib: Option<i64>,
    image_backend_id: Option<&'a str>,
    image_name: &'a str,
}

impl<'a> Terms<'a> {
    fn of(r: &'a InstanceRecord) -> Self {
        Self {
            vcpus: r.vcpus,
            ram_mib: r.ram_mib,
            disk_gib: billed_disk_gib(r),
            image_backend_id: r.image_backend_id.as_deref(),
            image_name: &r.image_name,
        }
    }

    /// Whether only the image's name differs: a rename in Glance, which the server's times
    /// say nothing of.
    fn renamed_from(&self, other: &Self) -> bool {
        self.image_name != other.image_name
            && Self {
                image_name: other.image_name,
                ..*self
            } == *other
    }
}

fn stint(
    r: &InstanceRecord,
    status: &ServerStatus,
    started: Boundary,
    ended: Option<Boundary>,
) -> Stint {
    Stint {
        status: status.clone(),
        started,
        ended,
        vcpus: r.vcpus,
        ram_mib: r.ram_mib,
        disk_gib: billed_disk_gib(r),
        image_backend_id: r.image_backend_id.clone(),
        image_name: r.image_name.clone(),
    }
}

/// What [`edits`] compares a listed server with, the catalog's row as `previous`, and the
/// window it dates the edits in: `window` for a known server's changes, `first_sight` for a
/// server the catalog does not have (the tenant's window, or [`Window::unbounded`] where its
/// previous sync did not list servers). An instance recorded before the history existed
/// starts its history as if seen first now, as far back as Nova's times tell: it did exist
/// at the previous sync.
pub fn baseline(
    previous: Option<&KnownInstance>,
    window: Window,
    first_sight: Window,
) -> (Option<&InstanceRecord>, Window) {
    match previous {
        Some(p) if p.lacks_history() => (None, window.unbounded()),
        Some(p) => (Some(&p.record), window),
        None => (None, first_sight),
    }
}

/// What this sync adds to the life of the server now listed as `now`, which the catalog had
/// as `previous` (`None`: seen for the first time); `log` is the server's action log where the
/// sync read it (since `previous` was recorded, or all of it for a new server).
pub fn edits(
    previous: Option<&InstanceRecord>,
    now: &InstanceRecord,
    w: &Window,
    log: Option<&[InstanceAction]>,
) -> Vec<IntervalEdit> {
    let ended = now.status.is_deleted() || now.terminated_at.is_some();
    let already_ended =
        previous.is_some_and(|p| p.status.is_deleted() || p.terminated_at.is_some());
    if already_ended {
        return Vec::new();
    }
    let mut out = match previous {
        None => log
            .and_then(|log| first_sight_from_log(now, w, log))
            .unwrap_or_else(|| first_sight(now, w)),
        // Ended since the last sync: what the log tells between the recorded state and the
        // deletion, no `DELETED` stretch (the close below ends the life).
        Some(prev) if ended => log
            .and_then(|log| changes_from_log(prev, now, w, log))
            .unwrap_or_default(),
        Some(prev) => {
            // A log also tells changes undone before this sync (stopped and started again).
            let differs = prev.status != now.status || Terms::of(prev) != Terms::of(now);
            match log.and_then(|log| changes_from_log(prev, now, w, log)) {
                Some(edits) => edits,
                None if differs => changed(prev, now, w),
                None => Vec::new(),
            }
        }
    };
    if ended {
        let end = match now.terminated_at {
            Some(t) => Some((t, DatedBy::Server)),
            None => now.upstream_updated_at.map(|t| (t, DatedBy::Updated)),
        };
        // A server first seen ended ended before this sync; before the last one only when
        // the window says its life may reach back that far (see [`first_sight`]).
        let at = match end {
            Some((t, by)) => w.clamp(Some(t), by),
            None => w.seen_now(),
        };
        // Never before the last step the log told: a stretch does not end before it starts.
        let at = match out.last() {
            Some(IntervalEdit::Add(last)) if last.started.at > at.at => last.started,
            _ => at,
        };
        out.push(IntervalEdit::Close(at));
    }
    out
}

/// A change of status or terms dated without a log: by the server's times.
fn changed(prev: &InstanceRecord, now: &InstanceRecord, w: &Window) -> Vec<IntervalEdit> {
    let at = if prev.status == now.status && Terms::of(now).renamed_from(&Terms::of(prev)) {
        w.seen_now()
    } else if prev.launched_at.is_none() && now.status.is_active() {
        // The first ACTIVE of a server that was never launched is dated by its launch.
        match now.launched_at {
            Some(launched) => w.clamp(Some(launched), DatedBy::Server),
            None => w.clamp(now.upstream_updated_at, DatedBy::Updated),
        }
    } else {
        w.clamp(now.upstream_updated_at, DatedBy::Updated)
    };
    vec![
        IntervalEdit::Close(at),
        IntervalEdit::Add(stint(now, &now.status, at, None)),
    ]
}

/// Stretches in order, each from its boundary to the next: boundaries never go back, and a
/// stretch that would last no time is replaced by the one after it.
#[derive(Default)]
struct Timeline<'a> {
    stretches: Vec<(Boundary, &'a InstanceRecord, ServerStatus)>,
}

impl<'a> Timeline<'a> {
    fn push(&mut self, at: Boundary, terms: &'a InstanceRecord, status: ServerStatus) {
        if let Some((last, last_terms, last_status)) = self.stretches.last_mut()
            && at.at <= last.at
        {
            *last_terms = terms;
            *last_status = status;
            return;
        }
        self.stretches.push((at, terms, status));
    }

    fn status(&self) -> Option<&ServerStatus> {
        self.stretches.last().map(|(_, _, s)| s)
    }

    fn last_at(&self) -> Option<DateTime<Utc>> {
        self.stretches.last().map(|(b, _, _)| b.at)
    }

    /// The edits: each stretch closes the one before it (the stored open interval, for the
    /// first, unless `first_opens` says the life begins with it).
    fn edits(self, first_opens: bool) -> Vec<IntervalEdit> {
        let mut out = Vec::with_capacity(self.stretches.len() * 2);
        for (i, (at, terms, status)) in self.stretches.into_iter().enumerate() {
            if i > 0 || !first_opens {
                out.push(IntervalEdit::Close(at));
            }
            out.push(IntervalEdit::Add(stint(terms, &status, at, None)));
        }
        out
    }
}

/// A change dated by the action log: each step the log tells, in the window, then the status
/// the server is listed in if the log does not end there (dated by `updated`), unless it
/// ended (replay stops at the deletion; [`edits`] closes the life). The new terms (a resize's
/// flavor, a rebuild's image) start with the first action that can bring them, else with
/// the last change. `None` when the log tells no change.
fn changes_from_log<'a>(
    prev: &'a InstanceRecord,
    now: &'a InstanceRecord,
    w: &Window,
    log: &[InstanceAction],
) -> Option<Vec<IntervalEdit>> {
    // Actions Nova took before the change the catalog last recorded were seen by the sync
    // that recorded it.
    let steps = replay::replay(&prev.status, &log[unseen(prev, log)..]);
    if steps.is_empty() {
        return None;
    }
    let switch = if Terms::of(prev) == Terms::of(now) {
        0
    } else {
        steps
            .iter()
            .position(|s| s.new_terms)
            .unwrap_or(steps.len() - 1)
    };
    let mut line = Timeline::default();
    for (i, Step { at, status, .. }) in steps.into_iter().enumerate() {
        let terms = if i >= switch { now } else { prev };
        line.push(w.clamp(Some(at), DatedBy::Action), terms, status);
    }
    if !(now.status.is_deleted() || now.terminated_at.is_some()) {
        finish(
            &mut line,
            now,
            w.clamp(now.upstream_updated_at, DatedBy::Updated),
        );
    }
    Some(line.edits(false))
}

/// The actions of `log` whose dates date a step of [`edits`] for a server the catalog had as
/// `previous` (`None`: seen for the first time): those that change its status or terms
/// since `previous` was recorded, and the `create` of a new server whose `launched_at` a
/// later action reset. Oldest first.
pub fn dating_actions<'a>(
    previous: Option<&InstanceRecord>,
    log: &'a [InstanceAction],
) -> Vec<&'a InstanceAction> {
    match previous {
        Some(prev) => {
            let from = unseen(prev, log);
            replay::stepping(&prev.status, &log[from..])
        }
        None => {
            let Some(at) = log.iter().position(|a| a.action == "create") else {
                return Vec::new();
            };
            let reset = log[at..]
                .iter()
                .any(|a| RESETS_LAUNCH.contains(&a.action.as_str()));
            let create = reset.then_some(&log[at]);
            create
                .into_iter()
                .chain(replay::stepping(&ServerStatus::Active, &log[at + 1..]))
                .collect()
        }
    }
}

/// Where the actions the sync that recorded `prev` did not see begin in `log` (oldest
/// first): those Nova took after the change it recorded (`changes-since` also gives actions
/// only updated since).
fn unseen(prev: &InstanceRecord, log: &[InstanceAction]) -> usize {
    match prev.upstream_updated_at {
        Some(seen) => log.partition_point(|a| a.start_time <= seen),
        None => 0,
    }
}

/// Ends the timeline in the status the server is listed in, from `at` (or its last change).
fn finish<'a>(line: &mut Timeline<'a>, now: &'a InstanceRecord, at: Boundary) {
    if line.status() != Some(&now.status) {
        let at = Boundary {
            at: Ord::max(at.at, line.last_at().unwrap_or(at.at)),
            by: at.by,
        };
        line.push(at, now, now.status.clone());
    }
}

/// A server seen for the first time, its whole life told by its log: building since its
/// creation, `ACTIVE` from its launch (`launched_at` when no later action reset it, else the
/// `create` request), then each change the log tells. Its earlier flavors and images are not
/// known: the whole life is at its terms now. `None` when the log lacks its creation (purged)
/// or the server never launched (the log cannot tell how a build failed).
fn first_sight_from_log(
    now: &InstanceRecord,
    w: &Window,
    log: &[InstanceAction],
) -> Option<Vec<IntervalEdit>> {
    let at = log.iter().position(|a| a.action == "create")?;
    let create = &log[at];
    let launched_at = now.launched_at?;
    let reset = log[at..]
        .iter()
        .any(|a| RESETS_LAUNCH.contains(&a.action.as_str()));
    let launch = if reset {
        // A create that failed or still runs would have no launch: its request dates it.
        let built = replay::changed_at(create).unwrap_or(create.start_time);
        w.clamp(Some(built), DatedBy::Action)
    } else {
        w.clamp(Some(launched_at), DatedBy::Server)
    };
    let mut line = Timeline::default();
    if let Some(created) = now.backend_created_at.filter(|c| *c < launch.at) {
        line.push(
            w.clamp(Some(created), DatedBy::Server),
            now,
            ServerStatus::Build,
        );
    }
    line.push(launch, now, ServerStatus::Active);
    for Step { at, status, .. } in replay::replay(&ServerStatus::Active, &log[at + 1..]) {
        line.push(w.clamp(Some(at), DatedBy::Action), now, status);
    }
    finish(
        &mut line,
        now,
        w.clamp(now.upstream_updated_at, DatedBy::Updated),
    );
    Some(line.edits(true))
}

/// A server seen for the first time: `ACTIVE` since its launch, then (when it is in another
/// status now) that status since its last change. One new since the previous sync (the
/// window has its lower side) also has `BUILD` from its creation to its launch, as a first
/// sight from the log has, so its recorded life begins when it was created, or, where a
/// skewed clock stamps that before the previous sync, when that sync was (a report counts
/// its creation there, see `usage_report`). Not for a life that may reach further back: a
/// resize resets `launched_at`, and the `BUILD` would then stand for weeks of running.
fn first_sight(now: &InstanceRecord, w: &Window) -> Vec<IntervalEdit> {
    let born = w.clamp(now.launched_at.or(now.backend_created_at), DatedBy::Server);
    let runs_now = now.status.is_active() || now.status.is_deleted();
    let launch = if runs_now {
        Some(born)
    } else {
        now.launched_at
            .filter(|l| *l < w.until)
            .map(|l| w.clamp(Some(l), DatedBy::Server))
    };
    // Never launched (building, or failed before): in its status since it was created.
    let Some(launch) = launch else {
        return vec![IntervalEdit::Add(stint(now, &now.status, born, None))];
    };
    let mut line: Vec<(Boundary, ServerStatus)> = Vec::new();
    let built = now
        .backend_created_at
        .filter(|_| w.since.is_some() && now.launched_at.is_some())
        .map(|c| w.clamp(Some(c), DatedBy::Server))
        .filter(|c| c.at < launch.at);
    line.extend(built.map(|c| (c, ServerStatus::Build)));
    line.push((launch, ServerStatus::Active));
    if !runs_now {
        let changed = match now.upstream_updated_at {
            Some(u) if u > w.until => w.seen_now(),
            Some(u) if u > launch.at => Boundary {
                at: u,
                by: DatedBy::Updated,
            },
            // Changed no later than its launch: the launch dates it.
            Some(_) => launch,
            None => w.seen_now(),
        };
        if changed.at > launch.at {
            line.push((changed, now.status.clone()));
        } else if let Some((_, status)) = line.last_mut() {
            *status = now.status.clone();
        }
    }
    let ends: Vec<Option<Boundary>> = line.iter().skip(1).map(|(b, _)| Some(*b)).collect();
    line.iter()
        .zip(ends.into_iter().chain([None]))
        .map(|((at, status), ended)| IntervalEdit::Add(stint(now, status, *at, ended)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CloudId, TenantId};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn record(status: &str, launched: Option<&str>, updated: Option<&str>) -> InstanceRecord {
        InstanceRecord {
            id: 0,
            uuid: uuid::Uuid::nil(),
            cloud_id: CloudId(0),
            tenant_id: TenantId(0),
            backend_id: "s".into(),
            name: "s".into(),
            image_backend_id: None,
            image_name: String::new(),
            status: status.into(),
            backend_created_at: Some(t("2026-11-01T00:00:00Z")),
            deleted_at: None,
            flavor_name: "m1".into(),
            vcpus: Some(2),
            ram_mib: Some(4096),
            disk_gib: Some(20),
            ephemeral_gib: Some(0),
            launched_at: launched.map(t),
            terminated_at: None,
            upstream_updated_at: updated.map(t),
            vm_state: String::new(),
            attached_volumes: serde_json::json!([]),
            boot_volume_id: None,
            boot_volume_gib: None,
            usage_seq: 0,
        }
    }

    fn by(s: &str, by: DatedBy) -> Boundary {
        Boundary { at: t(s), by }
    }

    fn server(s: &str) -> Boundary {
        by(s, DatedBy::Server)
    }

    fn window(since: &str, until: &str) -> Window {
        Window {
            since: Some(t(since)),
            until: t(until),
        }
    }

    /// A tenant's first sync: its servers' lives reach back as far as Nova's times tell.
    fn first_sync(until: &str) -> Window {
        Window {
            since: None,
            until: t(until),
        }
    }

    #[test]
    fn a_first_sync_dates_a_first_sight_from_launch() {
        let w = first_sync("2026-11-11T00:00:00Z");
        let active = record("ACTIVE", Some("2026-11-02T00:00:00Z"), None);
        assert_eq!(
            edits(None, &active, &w, None),
            [IntervalEdit::Add(stint(
                &active,
                &ServerStatus::Active,
                server("2026-11-02T00:00:00Z"),
                None
            ))]
        );
        let off = record(
            "SHUTOFF",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-05T00:00:00Z"),
        );
        assert_eq!(
            edits(None, &off, &w, None),
            [
                IntervalEdit::Add(stint(
                    &off,
                    &ServerStatus::Active,
                    server("2026-11-02T00:00:00Z"),
                    Some(by("2026-11-05T00:00:00Z", DatedBy::Updated))
                )),
                IntervalEdit::Add(stint(
                    &off,
                    &ServerStatus::Shutoff,
                    by("2026-11-05T00:00:00Z", DatedBy::Updated),
                    None
                )),
            ]
        );
        let building = record("BUILD", None, None);
        assert_eq!(
            edits(None, &building, &w, None),
            [IntervalEdit::Add(stint(
                &building,
                &ServerStatus::Build,
                server("2026-11-01T00:00:00Z"),
                None
            ))]
        );
    }

    fn sync_at(s: &str) -> Boundary {
        by(s, DatedBy::Sync)
    }

    /// The starts (status, boundary) of the stints `edits` adds.
    fn starts(edits: &[IntervalEdit]) -> Vec<(String, Boundary)> {
        edits
            .iter()
            .filter_map(|e| match e {
                IntervalEdit::Add(s) => Some((s.status.to_string(), s.started)),
                IntervalEdit::Close(_) => None,
            })
            .collect()
    }

    /// A server booted at `created` and launched at `launched` (in Nova's clock).
    fn booted(status: &str, created: &str, launched: &str) -> InstanceRecord {
        let mut r = record(status, Some(launched), Some(launched));
        r.backend_created_at = Some(t(created));
        r
    }

    #[test]
    fn a_first_sight_after_a_sync_lies_between_the_two_syncs() {
        // Synced at midnight, then at 00:20; Nova's clock is 30 minutes behind.
        let w = window("2026-11-10T00:00:00Z", "2026-11-10T00:20:00Z");
        let since = sync_at("2026-11-10T00:00:00Z");
        // Booted at 00:10, stamped 23:40: not before the midnight sync, which listed it not.
        let skewed = booted("ACTIVE", "2026-11-09T23:40:00Z", "2026-11-09T23:40:00Z");
        assert_eq!(
            edits(None, &skewed, &w, None),
            [IntervalEdit::Add(stint(
                &skewed,
                &ServerStatus::Active,
                since,
                None
            ))]
        );
        // Created before the midnight sync by its stamp, launched after: building from that
        // sync, so its life (and its creation) begins inside the window.
        let straddling = booted("ACTIVE", "2026-11-09T23:58:00Z", "2026-11-10T00:01:00Z");
        assert_eq!(
            starts(&edits(None, &straddling, &w, None)),
            [
                ("BUILD".to_string(), since),
                ("ACTIVE".to_string(), server("2026-11-10T00:01:00Z")),
            ]
        );
        // Stamped inside the window: building from `created`, as Nova says.
        let fresh = booted("ACTIVE", "2026-11-10T00:05:00Z", "2026-11-10T00:06:00Z");
        assert_eq!(
            starts(&edits(None, &fresh, &w, None)),
            [
                ("BUILD".to_string(), server("2026-11-10T00:05:00Z")),
                ("ACTIVE".to_string(), server("2026-11-10T00:06:00Z")),
            ]
        );
        // Stopped already, every stamp before the midnight sync: stopped since that sync.
        let mut stopped = skewed.clone();
        stopped.status = "SHUTOFF".into();
        stopped.upstream_updated_at = Some(t("2026-11-09T23:50:00Z"));
        assert_eq!(
            starts(&edits(None, &stopped, &w, None)),
            [("SHUTOFF".to_string(), since)]
        );
        // Already deleted: begun and ended at the midnight sync, no time counted before it.
        let mut gone = skewed.clone();
        gone.status = "DELETED".into();
        gone.terminated_at = Some(t("2026-11-09T23:55:00Z"));
        assert_eq!(
            edits(None, &gone, &w, None),
            [
                IntervalEdit::Add(stint(&gone, &ServerStatus::Active, since, None)),
                IntervalEdit::Close(since),
            ]
        );
        // Told by its log: every action before the midnight sync is dated by that sync.
        let log = [action(
            "create",
            "2026-11-09T23:39:00Z",
            finished("2026-11-09T23:40:00Z"),
        )];
        assert_eq!(
            starts(&edits(None, &straddling, &w, Some(&log))),
            [
                ("BUILD".to_string(), since),
                ("ACTIVE".to_string(), server("2026-11-10T00:01:00Z")),
            ]
        );
        assert_eq!(
            starts(&edits(None, &skewed, &w, Some(&log))),
            [("ACTIVE".to_string(), since)]
        );
    }

    #[test]
    fn a_first_sync_keeps_the_history_before_it_without_inventing_a_build() {
        // The same servers seen by a tenant's first sync: Nova's times, however early.
        let w = first_sync("2026-11-10T00:20:00Z");
        let skewed = booted("ACTIVE", "2026-11-09T23:40:00Z", "2026-11-09T23:40:00Z");
        assert_eq!(
            starts(&edits(None, &skewed, &w, None)),
            [("ACTIVE".to_string(), server("2026-11-09T23:40:00Z"))]
        );
        // A resize reset `launched_at` weeks after its creation: no `BUILD` for those weeks.
        let resized = booted("ACTIVE", "2026-10-01T00:00:00Z", "2026-11-09T12:00:00Z");
        assert_eq!(
            starts(&edits(None, &resized, &w, None)),
            [("ACTIVE".to_string(), server("2026-11-09T12:00:00Z"))]
        );
        // A stamp after the sync that lists it is still dated by that sync.
        let ahead = booted("ACTIVE", "2026-11-10T00:50:00Z", "2026-11-10T00:50:00Z");
        assert_eq!(
            starts(&edits(None, &ahead, &w, None)),
            [("ACTIVE".to_string(), sync_at("2026-11-10T00:20:00Z"))]
        );
    }

    #[test]
    fn an_instance_without_history_starts_it_unbounded_and_a_new_one_in_its_window() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-10T00:20:00Z");
        let unlisted = first_sync("2026-11-10T00:20:00Z");
        let row = |has_open_interval| KnownInstance {
            record: booted("ACTIVE", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"),
            has_open_interval,
        };
        // Recorded before the history existed: it existed at the previous sync too.
        let old = row(false);
        let (known, used) = baseline(Some(&old), w, w);
        assert!(known.is_none());
        assert_eq!(used.since, None);
        assert_eq!(
            starts(&edits(known, &old.record, &used, None)),
            [("ACTIVE".to_string(), server("2026-11-01T00:00:00Z"))]
        );
        let recorded = row(true);
        let (known, used) = baseline(Some(&recorded), w, unlisted);
        assert!(known.is_some());
        assert_eq!(
            used.since, w.since,
            "a known server's changes stay in the window"
        );
        // Not in the catalog: the first sight's window (unbounded where the previous sync
        // listed no servers).
        assert_eq!(baseline(None, w, w).1.since, w.since);
        assert_eq!(baseline(None, w, unlisted).1.since, None);
    }

    #[test]
    fn a_change_is_dated_by_updated_within_the_window() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let before = record(
            "ACTIVE",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-02T00:00:00Z"),
        );
        let inside = record(
            "SHUTOFF",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-10T06:00:00Z"),
        );
        assert_eq!(
            edits(Some(&before), &inside, &w, None),
            [
                IntervalEdit::Close(by("2026-11-10T06:00:00Z", DatedBy::Updated)),
                IntervalEdit::Add(stint(
                    &inside,
                    &ServerStatus::Shutoff,
                    by("2026-11-10T06:00:00Z", DatedBy::Updated),
                    None
                )),
            ]
        );
        // `updated` before the last sync cannot date a change that sync did not see.
        let stale = record(
            "SHUTOFF",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-03T00:00:00Z"),
        );
        assert_eq!(
            edits(Some(&before), &stale, &w, None)[0],
            IntervalEdit::Close(by("2026-11-10T00:00:00Z", DatedBy::Sync))
        );
        let mut resized = before.clone();
        resized.vcpus = Some(4);
        resized.upstream_updated_at = Some(t("2026-11-10T12:00:00Z"));
        assert_eq!(
            edits(Some(&before), &resized, &w, None).len(),
            2,
            "a resize opens a new interval"
        );
        let mut touched = before.clone();
        touched.upstream_updated_at = Some(t("2026-11-10T12:00:00Z"));
        assert!(
            edits(Some(&before), &touched, &w, None).is_empty(),
            "same status and size"
        );
        assert!(edits(Some(&before), &before, &w, None).is_empty());
    }

    #[test]
    fn termination_closes_the_life() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let before = record("ACTIVE", Some("2026-11-02T00:00:00Z"), None);
        let mut gone = record(
            "DELETED",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-10T08:00:00Z"),
        );
        gone.terminated_at = Some(t("2026-11-10T08:00:00Z"));
        assert_eq!(
            edits(Some(&before), &gone, &w, None),
            [IntervalEdit::Close(server("2026-11-10T08:00:00Z"))]
        );
        assert!(
            edits(Some(&gone), &gone, &w, None).is_empty(),
            "closed once"
        );
        // Seen for the first time already deleted, by a tenant's first sync: ACTIVE from
        // launch to termination.
        assert_eq!(
            edits(None, &gone, &w.unbounded(), None),
            [
                IntervalEdit::Add(stint(
                    &gone,
                    &ServerStatus::Active,
                    server("2026-11-02T00:00:00Z"),
                    None
                )),
                IntervalEdit::Close(server("2026-11-10T08:00:00Z")),
            ]
        );
    }

    #[test]
    fn a_log_dates_the_steps_before_a_deletion_between_two_syncs() {
        // ACTIVE at the last sync, stopped at 10:00, deleted at 11:00, synced at noon.
        let w = window("2026-11-10T00:00:00Z", "2026-11-10T12:00:00Z");
        let before = record(
            "ACTIVE",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-02T00:00:00Z"),
        );
        let mut gone = record(
            "DELETED",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-10T11:00:00Z"),
        );
        gone.terminated_at = Some(t("2026-11-10T11:00:00Z"));
        let log = [
            action(
                "stop",
                "2026-11-10T09:59:00Z",
                finished("2026-11-10T10:00:00Z"),
            ),
            action("delete", "2026-11-10T11:00:00Z", None),
        ];
        let stopped = by("2026-11-10T10:00:00Z", DatedBy::Action);
        assert_eq!(
            edits(Some(&before), &gone, &w, Some(&log)),
            [
                IntervalEdit::Close(stopped),
                IntervalEdit::Add(stint(&gone, &ServerStatus::Shutoff, stopped, None)),
                IntervalEdit::Close(server("2026-11-10T11:00:00Z")),
            ],
            "no DELETED stretch: the life ends at `terminated_at`"
        );
        // The events not read: the stop's request dates it.
        let requested = [action("stop", "2026-11-10T09:59:00Z", None), log[1].clone()];
        assert_eq!(
            edits(Some(&before), &gone, &w, Some(&requested))[0],
            IntervalEdit::Close(by("2026-11-10T09:59:00Z", DatedBy::Action))
        );
        // Without the log: ACTIVE until the termination, as before.
        assert_eq!(
            edits(Some(&before), &gone, &w, None),
            [IntervalEdit::Close(server("2026-11-10T11:00:00Z"))]
        );
        // A log of the deletion alone tells nothing more.
        assert_eq!(
            edits(Some(&before), &gone, &w, Some(&log[1..])),
            [IntervalEdit::Close(server("2026-11-10T11:00:00Z"))]
        );
        // Recorded as ended already: its log changes nothing.
        assert!(edits(Some(&gone), &gone, &w, Some(&log)).is_empty());
    }

    #[test]
    fn the_billed_disk_is_root_plus_ephemeral_or_the_boot_volume() {
        let mut r = record("ACTIVE", None, None);
        r.image_backend_id = Some("img".into());
        r.ephemeral_gib = Some(5);
        assert_eq!(billed_disk_gib(&r), Some(25));
        r.ephemeral_gib = None;
        assert_eq!(billed_disk_gib(&r), Some(20));
        r.boot_volume_id = Some("v".into());
        assert_eq!(billed_disk_gib(&r), None, "the volume's size is unknown");
        r.boot_volume_gib = Some(80);
        assert_eq!(billed_disk_gib(&r), Some(80), "not the flavor's root disk");
        r.boot_volume_id = None;
        r.disk_gib = None;
        assert_eq!(billed_disk_gib(&r), None, "an old Nova's unknown flavor");
        r.disk_gib = Some(20);
        r.image_backend_id = None;
        r.boot_volume_gib = None;
        assert_eq!(
            billed_disk_gib(&r),
            None,
            "booted from a volume Cinder does not show"
        );
    }

    #[test]
    fn a_rename_or_a_new_image_starts_a_new_interval() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let mut before = record(
            "ACTIVE",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-02T00:00:00Z"),
        );
        before.image_backend_id = Some("img".into());
        before.image_name = "old".into();
        let mut renamed = before.clone();
        renamed.image_name = "new".into();
        // Glance renamed the image: the server's `updated` did not move, the sync dates it.
        let seen = by("2026-11-11T00:00:00Z", DatedBy::Sync);
        assert_eq!(
            edits(Some(&before), &renamed, &w, None),
            [
                IntervalEdit::Close(seen),
                IntervalEdit::Add(stint(&renamed, &ServerStatus::Active, seen, None)),
            ]
        );
        let mut rebuilt = before.clone();
        rebuilt.image_backend_id = Some("other".into());
        rebuilt.image_name = "other".into();
        rebuilt.upstream_updated_at = Some(t("2026-11-10T03:00:00Z"));
        let at = by("2026-11-10T03:00:00Z", DatedBy::Updated);
        assert_eq!(
            edits(Some(&before), &rebuilt, &w, None),
            [
                IntervalEdit::Close(at),
                IntervalEdit::Add(stint(&rebuilt, &ServerStatus::Active, at, None)),
            ]
        );
        let mut extended = before.clone();
        extended.boot_volume_id = Some("v".into());
        extended.boot_volume_gib = Some(40);
        assert_eq!(
            edits(Some(&before), &extended, &w, None).len(),
            2,
            "new size"
        );
    }

    #[test]
    fn times_outside_the_window_leave_the_sync_as_the_date() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let before = record("ACTIVE", Some("2026-11-02T00:00:00Z"), None);
        // A skewed Nova clock puts the change after the sync that saw it.
        let ahead = record(
            "SHUTOFF",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-12T00:00:00Z"),
        );
        assert_eq!(
            edits(Some(&before), &ahead, &w, None)[0],
            IntervalEdit::Close(by("2026-11-11T00:00:00Z", DatedBy::Sync))
        );
        let unknown = record("SHUTOFF", Some("2026-11-02T00:00:00Z"), None);
        assert_eq!(
            edits(Some(&before), &unknown, &w, None)[0],
            IntervalEdit::Close(by("2026-11-11T00:00:00Z", DatedBy::Sync))
        );
    }

    fn action(name: &str, start: &str, outcome: Option<Outcome>) -> InstanceAction {
        InstanceAction {
            action: name.into(),
            request_id: format!("req-{name}-{start}"),
            start_time: t(start),
            outcome,
        }
    }

    fn finished(at: &str) -> Option<Outcome> {
        Some(Outcome::Finished(t(at)))
    }

    #[test]
    fn a_change_is_dated_by_its_actions_finish_where_known() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let before = record(
            "ACTIVE",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-02T00:00:00Z"),
        );
        let mut after = before.clone();
        after.status = "SHUTOFF".into();
        after.upstream_updated_at = Some(t("2026-11-10T06:20:00Z"));
        let stop = |outcome| [action("stop", "2026-11-10T06:00:00Z", outcome)];
        let dated = |log: &[InstanceAction]| edits(Some(&before), &after, &w, Some(log))[0].clone();
        assert_eq!(
            dated(&stop(finished("2026-11-10T06:20:00Z"))),
            IntervalEdit::Close(by("2026-11-10T06:20:00Z", DatedBy::Action))
        );
        assert_eq!(
            dated(&stop(None)),
            IntervalEdit::Close(by("2026-11-10T06:00:00Z", DatedBy::Action)),
            "events not read: the request"
        );
        // A finish after the sync that saw it is a skewed clock: the sync dates it.
        assert_eq!(
            dated(&stop(finished("2026-11-11T06:00:00Z"))),
            IntervalEdit::Close(by("2026-11-11T00:00:00Z", DatedBy::Sync))
        );
    }

    #[test]
    fn a_failed_or_running_action_invents_no_change() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let before = record(
            "ACTIVE",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-02T00:00:00Z"),
        );
        let mut touched = before.clone();
        touched.upstream_updated_at = Some(t("2026-11-10T06:00:00Z"));
        for outcome in [Outcome::Failed, Outcome::Running] {
            let log = [action("stop", "2026-11-10T05:00:00Z", Some(outcome))];
            assert!(
                edits(Some(&before), &touched, &w, Some(&log)).is_empty(),
                "{outcome:?}: still ACTIVE at its size"
            );
        }
        // A resize that failed into ERROR: the listing tells the status, `updated` its time.
        let mut erred = touched.clone();
        erred.status = "ERROR".into();
        let log = [action(
            "resize",
            "2026-11-10T05:00:00Z",
            Some(Outcome::Failed),
        )];
        let at = by("2026-11-10T06:00:00Z", DatedBy::Updated);
        assert_eq!(
            edits(Some(&before), &erred, &w, Some(&log)),
            [
                IntervalEdit::Close(at),
                IntervalEdit::Add(stint(&erred, &ServerStatus::Error, at, None)),
            ]
        );
    }

    #[test]
    fn a_reset_launch_is_dated_by_the_creates_finish() {
        let w = first_sync("2026-11-11T00:00:00Z");
        // Created at 00:00 (the record's `created`), built by 00:30, resized on the 5th.
        let now = record(
            "ACTIVE",
            Some("2026-11-05T01:00:00Z"),
            Some("2026-11-05T02:00:00Z"),
        );
        let log = [
            action(
                "create",
                "2026-11-01T00:00:00Z",
                finished("2026-11-01T00:30:00Z"),
            ),
            action(
                "resize",
                "2026-11-05T00:00:00Z",
                finished("2026-11-05T01:00:00Z"),
            ),
            action(
                "confirmResize",
                "2026-11-05T02:00:00Z",
                finished("2026-11-05T02:00:05Z"),
            ),
        ];
        let starts: Vec<_> = edits(None, &now, &w, Some(&log))
            .into_iter()
            .filter_map(|e| match e {
                IntervalEdit::Add(s) => Some((s.status.to_string(), s.started)),
                IntervalEdit::Close(_) => None,
            })
            .collect();
        let action_at = |s| by(s, DatedBy::Action);
        assert_eq!(
            starts,
            [
                ("BUILD".to_string(), server("2026-11-01T00:00:00Z")),
                ("ACTIVE".to_string(), action_at("2026-11-01T00:30:00Z")),
                (
                    "VERIFY_RESIZE".to_string(),
                    action_at("2026-11-05T01:00:00Z")
                ),
                ("ACTIVE".to_string(), action_at("2026-11-05T02:00:05Z")),
            ]
        );
    }

    #[test]
    fn the_actions_worth_reading_are_those_that_date_a_step() {
        let log = [
            action("create", "2026-11-01T00:00:00Z", None),
            action("attach_volume", "2026-11-02T00:00:00Z", None),
            action("stop", "2026-11-03T00:00:00Z", None),
            action("rebuild", "2026-11-04T00:00:00Z", None),
        ];
        let ids = |previous: Option<&InstanceRecord>| -> Vec<String> {
            dating_actions(previous, &log)
                .iter()
                .map(|a| a.action.clone())
                .collect()
        };
        // New: a rebuild reset `launched_at`, so the create dates the launch.
        assert_eq!(ids(None), ["create", "stop", "rebuild"]);
        assert_eq!(
            dating_actions(None, &log[..3])
                .iter()
                .map(|a| a.action.as_str())
                .collect::<Vec<_>>(),
            ["stop"],
            "`launched_at` dates the launch"
        );
        // Known as stopped since the 3rd: only what came after.
        let known = record(
            "SHUTOFF",
            Some("2026-11-01T00:10:00Z"),
            Some("2026-11-03T00:00:00Z"),
        );
        assert_eq!(ids(Some(&known)), ["rebuild"]);
    }
}
