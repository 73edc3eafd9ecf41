//! Scripted server lifecycles: each change Nova's API offers, applied as Nova applies it
//! (status, flavor, `launched_at`, `terminated_at`) and appended to the server's instance
//! action log with the cloud clock's time.
use chrono::{DateTime, Duration, Utc};

use crate::world::{ActionEvent, Flavor, InstanceAction, Server, World};

/// Who the scripted actions are taken by (the `user_id` the server listing shows).
pub const SIM_USER: &str = "sim-user";

/// A server action, named as Nova's action log names it (see [`ServerAction::name`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ServerAction {
    Stop,
    Start,
    Reboot,
    Pause,
    Unpause,
    Suspend,
    Resume,
    /// To this flavor: `VERIFY_RESIZE` until confirmed or reverted; resets `launched_at`.
    Resize(Flavor),
    /// Back to the running (or stopped) state the resize started from, on the new flavor.
    ConfirmResize,
    /// Back to the old flavor; resets `launched_at`.
    RevertResize,
    /// A cold migration: a resize to the same flavor (`VERIFY_RESIZE`, `launched_at` reset).
    Migrate,
    LiveMigrate,
    Shelve,
    ShelveOffload,
    /// Resets `launched_at`.
    Unshelve,
    /// Resets `launched_at`.
    Rescue,
    Unrescue,
    /// Onto this image (the same one when `None`); resets `launched_at`.
    Rebuild(Option<String>),
    /// `DELETED` with `terminated_at`: the server leaves the listings for
    /// [`World::deleted_servers`].
    Delete,
}

impl ServerAction {
    /// The action's name in Nova's log (`nova.compute.instance_actions`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Start => "start",
            Self::Reboot => "reboot",
            Self::Pause => "pause",
            Self::Unpause => "unpause",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Resize(_) => "resize",
            Self::ConfirmResize => "confirmResize",
            Self::RevertResize => "revertResize",
            Self::Migrate => "migrate",
            Self::LiveMigrate => "live-migration",
            Self::Shelve => "shelve",
            Self::ShelveOffload => "shelveOffload",
            Self::Unshelve => "unshelve",
            Self::Rescue => "rescue",
            Self::Unrescue => "unrescue",
            Self::Rebuild(_) => "rebuild",
            Self::Delete => "delete",
        }
    }

    /// The events the compute service records for it.
    pub(crate) fn events(&self) -> &'static [&'static str] {
        match self {
            Self::Stop => &["compute_stop_instance"],
            Self::Start => &["compute_start_instance"],
            Self::Reboot => &["compute_reboot_instance"],
            Self::Pause => &["compute_pause_instance"],
            Self::Unpause => &["compute_unpause_instance"],
            Self::Suspend => &["compute_suspend_instance"],
            Self::Resume => &["compute_resume_instance"],
            Self::Resize(_) | Self::Migrate => &[
                "compute_prep_resize",
                "compute_resize_instance",
                "compute_finish_resize",
            ],
            Self::ConfirmResize => &["compute_confirm_resize"],
            Self::RevertResize => &["compute_revert_resize", "compute_finish_revert_resize"],
            Self::LiveMigrate => &["compute_live_migration"],
            Self::Shelve => &["compute_shelve_instance"],
            Self::ShelveOffload => &["compute_shelve_offload_instance"],
            Self::Unshelve => &["compute_unshelve_instance"],
            Self::Rescue => &["compute_rescue_instance"],
            Self::Unrescue => &["compute_unrescue_instance"],
            Self::Rebuild(_) => &["compute_rebuild_instance"],
            Self::Delete => &["compute_terminate_instance"],
        }
    }
}

/// How a scripted action ends on the compute host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Its events all succeed and the server changes.
    Done,
    /// Its last event fails (`Error`, with a traceback for admins) and Nova rolls the server
    /// back: its status and flavor stay as they were, only `updated` moves.
    Failed,
    /// Its events still run (no finish time, no result): Nova keeps the server's status
    /// until the compute host is done.
    Running,
}

/// Appends an action that starts at `start` and whose events take `secs`.
pub fn record(server: &mut Server, action: &str, events: &[&str], start: DateTime<Utc>, secs: i64) {
    record_ending(server, action, events, start, secs, Ending::Done);
}

/// [`record`], ending as `ending` says.
pub fn record_ending(
    server: &mut Server,
    action: &str,
    events: &[&str],
    start: DateTime<Utc>,
    secs: i64,
    ending: Ending,
) {
    let finish = start + Duration::seconds(secs);
    let last = events.len().saturating_sub(1);
    let event = |i: usize, name: &str| {
        let (finish_time, result, traceback) = match ending {
            Ending::Done => (Some(finish), Some("Success"), None),
            Ending::Failed if i == last => (
                Some(finish),
                Some("Error"),
                Some("Traceback (most recent call last):\n  (simulated)".to_string()),
            ),
            Ending::Failed => (Some(finish), Some("Success"), None),
            Ending::Running => (None, None, None),
        };
        ActionEvent {
            event: name.into(),
            start_time: start,
            finish_time,
            result: result.map(String::from),
            traceback,
        }
    };
    server.actions.push(InstanceAction {
        action: action.into(),
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        user_id: SIM_USER.into(),
        project_id: server.project_id.clone(),
        start_time: start,
        updated_at: if events.is_empty() || ending == Ending::Running {
            start
        } else {
            finish
        },
        // Nova marks the action itself when an event fails.
        message: (ending == Ending::Failed && !events.is_empty()).then(|| "Error".into()),
        events: events
            .iter()
            .enumerate()
            .map(|(i, e)| event(i, e))
            .collect(),
    });
}

/// The action a bare status change stands for, when there is one.
pub fn action_for_status(from: &str, to: &str) -> Option<ServerAction> {
    Some(match (from, to) {
        (_, "SHUTOFF") => ServerAction::Stop,
        (_, "PAUSED") => ServerAction::Pause,
        (_, "SUSPENDED") => ServerAction::Suspend,
        (_, "SHELVED") => ServerAction::Shelve,
        (_, "SHELVED_OFFLOADED") => ServerAction::ShelveOffload,
        (_, "RESCUE") => ServerAction::Rescue,
        ("SHUTOFF", "ACTIVE") => ServerAction::Start,
        ("PAUSED", "ACTIVE") => ServerAction::Unpause,
        ("SUSPENDED", "ACTIVE") => ServerAction::Resume,
        ("SHELVED" | "SHELVED_OFFLOADED", "ACTIVE") => ServerAction::Unshelve,
        ("RESCUE", "ACTIVE") => ServerAction::Unrescue,
        _ => return None,
    })
}

/// The status a confirmed or reverted resize returns to: a server resized while stopped
/// stays stopped, as Nova keeps it.
fn settled(from: &str) -> String {
    if from == "SHUTOFF" {
        "SHUTOFF"
    } else {
        "ACTIVE"
    }
    .into()
}

impl World {
    /// Applies `action` to the (live) server `id` at `now`, as Nova does, and logs it.
    /// `false` for an unknown server, or a confirm or revert without a resize to settle.
    pub fn act(&mut self, id: &str, action: ServerAction, now: DateTime<Utc>) -> bool {
        self.act_ending(id, action, now, Ending::Done)
    }

    /// [`World::act`], ending as `ending` says: a failed action leaves the server as it was
    /// (but for `updated`, at the failure), a running one too (`updated` now, as Nova saves
    /// the task state), both logged with their events.
    pub fn act_ending(
        &mut self,
        id: &str,
        action: ServerAction,
        now: DateTime<Utc>,
        ending: Ending,
    ) -> bool {
        let secs = self.action_event_secs;
        let Some(pos) = self.servers.iter().position(|s| s.id == id) else {
            return false;
        };
        let server = &mut self.servers[pos];
        if ending != Ending::Done {
            let at = match ending {
                Ending::Running => now,
                _ => now + Duration::seconds(secs),
            };
            server.updated = Some(at);
            record_ending(server, action.name(), action.events(), now, secs, ending);
            return true;
        }
        if !change(server, &action, now + Duration::seconds(secs)) {
            return false;
        }
        record(server, action.name(), action.events(), now, secs);
        if action == ServerAction::Delete {
            let gone = self.servers.remove(pos);
            self.deleted_servers.push(gone);
        }
        true
    }
}

/// The state change itself, dated `done` (when the compute host finished it).
fn change(s: &mut Server, action: &ServerAction, done: DateTime<Utc>) -> bool {
    use ServerAction::*;
    match action {
        Stop => s.status = "SHUTOFF".into(),
        Start | Reboot | Unpause | Resume | Unrescue => {
            s.status = "ACTIVE".into();
            s.launched_at.get_or_insert(done);
        }
        Pause => s.status = "PAUSED".into(),
        Suspend => s.status = "SUSPENDED".into(),
        Resize(_) | Migrate => {
            let to = match action {
                Resize(f) => f.clone(),
                _ => s.flavor.clone(),
            };
            let from = std::mem::replace(&mut s.flavor, to);
            s.resized_from = Some((from, s.status.clone()));
            s.status = "VERIFY_RESIZE".into();
            s.launched_at = Some(done);
        }
        ConfirmResize => match s.resized_from.take() {
            Some((_, status)) => s.status = settled(&status),
            None => return false,
        },
        RevertResize => match s.resized_from.take() {
            Some((flavor, status)) => {
                s.flavor = flavor;
                s.status = settled(&status);
                s.launched_at = Some(done);
            }
            None => return false,
        },
        LiveMigrate => {}
        Shelve => s.status = "SHELVED".into(),
        ShelveOffload => s.status = "SHELVED_OFFLOADED".into(),
        Unshelve | Rescue => {
            s.status = if *action == Rescue {
                "RESCUE"
            } else {
                "ACTIVE"
            }
            .into();
            s.launched_at = Some(done);
        }
        Rebuild(image) => {
            if let Some(image) = image {
                s.image_id = Some(image.clone());
            }
            if s.status != "SHUTOFF" {
                s.status = "ACTIVE".into();
            }
            s.launched_at = Some(done);
        }
        Delete => {
            s.status = "DELETED".into();
            s.terminated_at = Some(done);
        }
    }
    s.updated = Some(done);
    true
}
