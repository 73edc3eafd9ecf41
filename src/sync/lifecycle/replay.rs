//! A server's status changes told by its action log: each action leaves the server in a
//! status (a `stop` in `SHUTOFF`, a `resize` in `VERIFY_RESIZE`, its `confirmResize` back in
//! the status the resize started from, …). Replaying the log from the status the catalog
//! last recorded gives every change since, where the server's `updated` dates only the last
//! one.
//!
//! Each change is dated by when the action's events finished, where the sync read them
//! and all finished: Nova keeps the server's status while the compute host works (a `stop`
//! leaves it `ACTIVE` until the guest is off), so the finish is when the status changed.
//! Otherwise by when Nova took the request, which is early by the action's own duration.
use chrono::{DateTime, Utc};

use crate::catalog::ServerStatus;
use crate::openstack::nova_actions::{InstanceAction, Outcome};

/// One change the log tells: from `at` the server is in `status`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub status: ServerStatus,
    /// The action may have changed the flavor or the image (a resize, a cold migration's
    /// resize, a revert, a rebuild): the server's new terms start here.
    pub new_terms: bool,
}

/// Actions after which Nova sets `launched_at` anew: a server's `launched_at` is its first
/// launch only when its log has none of them.
pub const RESETS_LAUNCH: [&str; 5] = ["resize", "revertResize", "rescue", "rebuild", "unshelve"];

/// The status a server is in once `action` is done, from `before`; `None` for actions that
/// leave the status as it is (a volume attached, a lock, a live migration, an unknown one).
/// `resized_from` keeps the status a pending resize started from.
fn status_after(
    action: &str,
    before: &ServerStatus,
    resized_from: &mut Option<ServerStatus>,
) -> Option<ServerStatus> {
    use ServerStatus as S;
    Some(match action {
        "create" | "start" | "reboot" | "unpause" | "resume" | "unrescue" | "unshelve" => S::Active,
        // Nova rebuilds a stopped server into a stopped one.
        "rebuild" if *before == S::Shutoff => S::Shutoff,
        "rebuild" => S::Active,
        "stop" => S::Shutoff,
        "pause" => S::Paused,
        "suspend" => S::Suspended,
        "rescue" => S::Rescue,
        "shelve" => S::Shelved,
        "shelveOffload" => S::ShelvedOffloaded,
        "resize" | "migrate" => {
            *resized_from = Some(before.clone());
            S::VerifyResize
        }
        "confirmResize" | "revertResize" => resized_from.take().unwrap_or(S::Active),
        "delete" => S::Deleted,
        _ => return None,
    })
}

/// Whether the action can change what the server is billed at or counts for.
fn changes_terms(action: &str) -> bool {
    matches!(action, "resize" | "migrate" | "revertResize" | "rebuild")
}

/// When `a` changed the server: when its events finished (never before the request), where
/// they were read and all finished; when Nova took the request where they were not read or
/// the action has none. `None` for an action its events say made no change: one still
/// running (Nova changes the status when the compute host is done) or one that failed (Nova
/// rolls the status back, or sets `ERROR`, which the server's listing shows). Such an action
/// is left out of the replay, so no status is invented from it; the listed status, dated by
/// the server's `updated`, ends the timeline as for any change the log does not tell.
pub fn changed_at(a: &InstanceAction) -> Option<DateTime<Utc>> {
    match a.outcome {
        None => Some(a.start_time),
        Some(Outcome::Finished(t)) => Some(Ord::max(t, a.start_time)),
        Some(Outcome::Running | Outcome::Failed) => None,
    }
}

/// One action of the log that changes the status or may change the terms.
struct Change<'a> {
    action: &'a InstanceAction,
    at: DateTime<Utc>,
    status: ServerStatus,
    new_terms: bool,
}

/// The actions of `log` (oldest first) that change a server in status `from`: its status, or
/// its terms. Stops at a deletion: the end is dated by `terminated_at`.
fn changes<'a>(from: &ServerStatus, log: &'a [InstanceAction]) -> Vec<Change<'a>> {
    let mut state = from.clone();
    let mut resized_from = None;
    let mut out = Vec::new();
    for a in log {
        let Some(at) = changed_at(a) else {
            continue;
        };
        let Some(next) = status_after(&a.action, &state, &mut resized_from) else {
            continue;
        };
        if next.is_deleted() {
            break;
        }
        let new_terms = changes_terms(&a.action);
        if next == state && !new_terms {
            continue;
        }
        state = next.clone();
        out.push(Change {
            action: a,
            at,
            status: next,
            new_terms,
        });
    }
    out
}

/// The actions of `log` whose dates make the steps of [`replay`] from `from`: the ones worth
/// reading events for.
pub fn stepping<'a>(from: &ServerStatus, log: &'a [InstanceAction]) -> Vec<&'a InstanceAction> {
    changes(from, log).into_iter().map(|c| c.action).collect()
}

/// The changes `log` (oldest first) makes to a server in status `from`: one step per action
/// that changes its status or may change its terms. An action in the same instant as the
/// step before it replaces that step (no empty stretch). Replay stops at a deletion: the end
/// is dated by `terminated_at`.
pub fn replay(from: &ServerStatus, log: &[InstanceAction]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for c in changes(from, log) {
        match steps.last_mut() {
            Some(last) if last.at == c.at => {
                last.status = c.status;
                last.new_terms |= c.new_terms;
            }
            _ => steps.push(Step {
                at: c.at,
                status: c.status,
                new_terms: c.new_terms,
            }),
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(actions: &[(&str, i64)]) -> Vec<InstanceAction> {
        actions
            .iter()
            .map(|(a, h)| InstanceAction {
                action: a.to_string(),
                request_id: format!("req-{a}-{h}"),
                start_time: at(*h),
                outcome: None,
            })
            .collect()
    }

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(h * 3600, 0).unwrap()
    }

    fn step(h: i64, status: ServerStatus, new_terms: bool) -> Step {
        Step {
            at: at(h),
            status,
            new_terms,
        }
    }

    #[test]
    fn every_status_change_is_a_step() {
        use ServerStatus as S;
        let steps = replay(
            &S::Active,
            &log(&[("stop", 1), ("start", 2), ("pause", 3), ("unpause", 4)]),
        );
        assert_eq!(
            steps,
            [
                step(1, S::Shutoff, false),
                step(2, S::Active, false),
                step(3, S::Paused, false),
                step(4, S::Active, false),
            ]
        );
    }

    #[test]
    fn a_resize_returns_to_the_status_it_started_from() {
        use ServerStatus as S;
        assert_eq!(
            replay(&S::Shutoff, &log(&[("resize", 1), ("confirmResize", 2)])),
            [step(1, S::VerifyResize, true), step(2, S::Shutoff, false)]
        );
        assert_eq!(
            replay(&S::Active, &log(&[("migrate", 1), ("revertResize", 2)])),
            [step(1, S::VerifyResize, true), step(2, S::Active, true)]
        );
    }

    #[test]
    fn actions_that_change_nothing_are_no_steps() {
        use ServerStatus as S;
        assert!(
            replay(
                &S::Active,
                &log(&[
                    ("create", 0),
                    ("attach_volume", 1),
                    ("reboot", 2),
                    ("lock", 3)
                ])
            )
            .is_empty()
        );
        // A rebuild keeps the status but may bring another image.
        assert_eq!(
            replay(&S::Shutoff, &log(&[("rebuild", 1)])),
            [step(1, S::Shutoff, true)]
        );
    }

    #[test]
    fn same_instant_actions_are_one_step_and_a_deletion_ends_the_replay() {
        use ServerStatus as S;
        assert_eq!(
            replay(
                &S::Active,
                &log(&[("stop", 1), ("shelve", 1), ("shelveOffload", 2)])
            ),
            [
                step(1, S::Shelved, false),
                step(2, S::ShelvedOffloaded, false)
            ]
        );
        assert_eq!(
            replay(
                &S::Active,
                &log(&[("stop", 1), ("delete", 2), ("start", 3)])
            ),
            [step(1, S::Shutoff, false)]
        );
    }

    #[test]
    fn finished_events_date_a_step_and_failed_or_running_actions_make_none() {
        use ServerStatus as S;
        let mut l = log(&[("stop", 1), ("start", 2), ("start", 3), ("resize", 4)]);
        // Before the events are read, each action that changes something is worth reading.
        let worth: Vec<&str> = stepping(&S::Active, &l)
            .iter()
            .map(|a| a.request_id.as_str())
            .collect();
        assert_eq!(worth, ["req-stop-1", "req-start-2", "req-resize-4"]);
        let minutes = |h: i64, m: i64| at(h) + chrono::Duration::minutes(m);
        l[0].outcome = Some(Outcome::Finished(minutes(1, 5)));
        l[1].outcome = Some(Outcome::Failed);
        l[2].outcome = Some(Outcome::Finished(minutes(3, 10)));
        l[3].outcome = Some(Outcome::Running);
        assert_eq!(
            replay(&S::Active, &l),
            [
                Step {
                    at: minutes(1, 5),
                    status: S::Shutoff,
                    new_terms: false
                },
                Step {
                    at: minutes(3, 10),
                    status: S::Active,
                    new_terms: false
                },
            ],
            "the failed start left it stopped; the running resize changed nothing yet"
        );
        // A compute host whose clock is behind the API's: never before the request.
        l[0].outcome = Some(Outcome::Finished(minutes(0, 50)));
        assert_eq!(changed_at(&l[0]), Some(at(1)));
    }
}
