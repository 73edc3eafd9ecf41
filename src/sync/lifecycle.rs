//! An instance's life as the syncs see it: intervals in one status at one flavor size. A sync
//! sees a server's state now, so it dates each change it finds: the server's `updated` when
//! the status changed since the last sync (clamped into the window between the two syncs,
//! since `updated` also moves for changes that are not status changes), `launched_at` for the
//! first `ACTIVE`, `terminated_at` for the end. Only changes are recorded: an idle re-sync adds
//! nothing.
use chrono::{DateTime, Utc};

use crate::catalog::ServerStatus;
use crate::catalog::inventory::{InstanceRecord, IntervalEdit, Stint};

/// Between the tenant's last successful sync and this one: a change seen now happened then.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
}

impl Window {
    /// `t` (or the end of the window when unknown), moved into the window.
    fn clamp(&self, t: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let t = t.unwrap_or(self.until).min(self.until);
        self.since.map_or(t, |since| t.max(since))
    }
}

/// The size the interval is billed at.
type Size = (Option<i32>, Option<i64>, Option<i64>);

fn size(r: &InstanceRecord) -> Size {
    (r.vcpus, r.ram_mib, r.disk_gib)
}

fn stint(
    r: &InstanceRecord,
    status: &ServerStatus,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Stint {
    Stint {
        status: status.clone(),
        started_at: from,
        ended_at: to,
        vcpus: r.vcpus,
        ram_mib: r.ram_mib,
        disk_gib: r.disk_gib,
    }
}

/// What this sync adds to the life of the server now listed as `now`, which the catalog had
/// as `previous` (`None`: seen for the first time).
pub fn edits(
    previous: Option<&InstanceRecord>,
    now: &InstanceRecord,
    w: &Window,
) -> Vec<IntervalEdit> {
    let ended = now.status.is_deleted() || now.terminated_at.is_some();
    let already_ended =
        previous.is_some_and(|p| p.status.is_deleted() || p.terminated_at.is_some());
    if already_ended {
        return Vec::new();
    }
    let mut out = match previous {
        None => first_sight(now, w),
        Some(_) if ended => Vec::new(),
        Some(prev) if prev.status != now.status || size(prev) != size(now) => {
            // The first ACTIVE of a server that was never launched is dated by its launch.
            let first_launch = prev.launched_at.is_none() && now.status.is_active();
            let when = if first_launch {
                now.launched_at.or(now.upstream_updated_at)
            } else {
                now.upstream_updated_at
            };
            let at = w.clamp(when);
            vec![
                IntervalEdit::Close(at),
                IntervalEdit::Add(stint(now, &now.status, at, None)),
            ]
        }
        Some(_) => Vec::new(),
    };
    if ended {
        let end = now.terminated_at.or(now.upstream_updated_at);
        // A server first seen ended ended before this sync, possibly long before the last.
        let at = match previous {
            None => end.unwrap_or(w.until).min(w.until),
            Some(_) => w.clamp(end),
        };
        out.push(IntervalEdit::Close(at));
    }
    out
}

/// A server seen for the first time: `ACTIVE` since its launch, then (when it is in another
/// status now) that status since its last change.
fn first_sight(now: &InstanceRecord, w: &Window) -> Vec<IntervalEdit> {
    let born = now
        .launched_at
        .or(now.backend_created_at)
        .unwrap_or(w.until)
        .min(w.until);
    if now.status.is_active() || now.status.is_deleted() {
        return vec![IntervalEdit::Add(stint(
            now,
            &ServerStatus::Active,
            born,
            None,
        ))];
    }
    match now.launched_at.filter(|l| *l < w.until) {
        Some(launched) => {
            let changed = now
                .upstream_updated_at
                .unwrap_or(w.until)
                .clamp(launched, w.until);
            let mut out = Vec::new();
            if changed > launched {
                out.push(IntervalEdit::Add(stint(
                    now,
                    &ServerStatus::Active,
                    launched,
                    Some(changed),
                )));
            }
            out.push(IntervalEdit::Add(stint(now, &now.status, changed, None)));
            out
        }
        // Never launched (building, or failed before): in its status since it was created.
        None => vec![IntervalEdit::Add(stint(now, &now.status, born, None))],
    }
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
            usage_seq: 0,
        }
    }

    fn window(since: &str, until: &str) -> Window {
        Window {
            since: Some(t(since)),
            until: t(until),
        }
    }

    #[test]
    fn first_sight_runs_from_launch() {
        let w = window("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z");
        let active = record("ACTIVE", Some("2026-11-02T00:00:00Z"), None);
        assert_eq!(
            edits(None, &active, &w),
            [IntervalEdit::Add(stint(
                &active,
                &ServerStatus::Active,
                t("2026-11-02T00:00:00Z"),
                None
            ))]
        );
        let off = record(
            "SHUTOFF",
            Some("2026-11-02T00:00:00Z"),
            Some("2026-11-05T00:00:00Z"),
        );
        assert_eq!(
            edits(None, &off, &w),
            [
                IntervalEdit::Add(stint(
                    &off,
                    &ServerStatus::Active,
                    t("2026-11-02T00:00:00Z"),
                    Some(t("2026-11-05T00:00:00Z"))
                )),
                IntervalEdit::Add(stint(
                    &off,
                    &ServerStatus::Shutoff,
                    t("2026-11-05T00:00:00Z"),
                    None
                )),
            ]
        );
        let building = record("BUILD", None, None);
        assert_eq!(
            edits(None, &building, &w),
            [IntervalEdit::Add(stint(
                &building,
                &ServerStatus::Build,
                t("2026-11-01T00:00:00Z"),
                None
            ))]
        );
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
            edits(Some(&before), &inside, &w),
            [
                IntervalEdit::Close(t("2026-11-10T06:00:00Z")),
                IntervalEdit::Add(stint(
                    &inside,
                    &ServerStatus::Shutoff,
                    t("2026-11-10T06:00:00Z"),
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
            edits(Some(&before), &stale, &w)[0],
            IntervalEdit::Close(t("2026-11-10T00:00:00Z"))
        );
        let mut resized = before.clone();
        resized.vcpus = Some(4);
        resized.upstream_updated_at = Some(t("2026-11-10T12:00:00Z"));
        assert_eq!(
            edits(Some(&before), &resized, &w).len(),
            2,
            "a resize opens a new interval"
        );
        let mut touched = before.clone();
        touched.upstream_updated_at = Some(t("2026-11-10T12:00:00Z"));
        assert!(
            edits(Some(&before), &touched, &w).is_empty(),
            "same status and size"
        );
        assert!(edits(Some(&before), &before, &w).is_empty());
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
            edits(Some(&before), &gone, &w),
            [IntervalEdit::Close(t("2026-11-10T08:00:00Z"))]
        );
        assert!(edits(Some(&gone), &gone, &w).is_empty(), "closed once");
        // Seen for the first time already deleted: ACTIVE from launch to termination.
        assert_eq!(
            edits(None, &gone, &w),
            [
                IntervalEdit::Add(stint(
                    &gone,
                    &ServerStatus::Active,
                    t("2026-11-02T00:00:00Z"),
                    None
                )),
                IntervalEdit::Close(t("2026-11-10T08:00:00Z")),
            ]
        );
    }
}
