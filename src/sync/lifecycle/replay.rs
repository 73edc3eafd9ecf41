//! A server's status changes told by its action log: each action leaves the server in a
//! status (a `stop` in `SHUTOFF`, a `resize` in `VERIFY_RESIZE`, its `confirmResize` back in
//! the status the resize started from, …), dated by when Nova took the request. Replaying
//! the log from the status the catalog last recorded gives every change since, where the
//! server's `updated` dates only the last one.
use chrono::{DateTime, Utc};

use crate::catalog::ServerStatus;
use crate::openstack::nova_actions::InstanceAction;

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

/// The changes `log` (oldest first) makes to a server in status `from`: one step per action
/// that changes its status or may change its terms. An action in the same instant as the
/// step before it replaces that step (no empty stretch). Replay stops at a deletion: the end
/// is dated by `terminated_at`.
pub fn replay(from: &ServerStatus, log: &[InstanceAction]) -> Vec<Step> {
    let mut state = from.clone();
    let mut resized_from = None;
    let mut steps: Vec<Step> = Vec::new();
    for a in log {
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
        match steps.last_mut() {
            Some(last) if last.at == a.start_time => {
                last.status = next.clone();
                last.new_terms |= new_terms;
            }
            _ => steps.push(Step {
                at: a.start_time,
                status: next.clone(),
                new_terms,
            }),
        }
        state = next;
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
}
