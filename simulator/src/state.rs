//! The simulator's shared state: the world with its listing order, issued tokens, faults.
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};

use crate::faults::FaultBook;
use crate::reset::Resets;
use crate::world::{Image, World};

/// The world plus the orders Glance and Nova list in (newest first, then id descending), so a
/// page costs a scan from its marker rather than a sort of everything.
pub struct Indexed {
    pub world: World,
    pub image_order: Vec<usize>,
    pub image_pos: HashMap<String, usize>,
    pub server_order: Vec<usize>,
    pub server_pos: HashMap<String, usize>,
}

impl Indexed {
    pub fn new(world: World) -> Self {
        let mut me = Self {
            world,
            image_order: Vec::new(),
            image_pos: HashMap::new(),
            server_order: Vec::new(),
            server_pos: HashMap::new(),
        };
        me.reindex();
        me
    }

    pub fn reindex(&mut self) {
        let images = &self.world.images;
        let mut order: Vec<usize> = (0..images.len()).collect();
        order.sort_by(|&a, &b| {
            (images[b].created_at, &images[b].id).cmp(&(images[a].created_at, &images[a].id))
        });
        self.image_pos = order
            .iter()
            .enumerate()
            .map(|(pos, &i)| (images[i].id.clone(), pos))
            .collect();
        self.image_order = order;

        let servers = &self.world.servers;
        let mut order: Vec<usize> = (0..servers.len()).collect();
        order.sort_by(|&a, &b| {
            (servers[b].created, &servers[b].id).cmp(&(servers[a].created, &servers[a].id))
        });
        self.server_pos = order
            .iter()
            .enumerate()
            .map(|(pos, &i)| (servers[i].id.clone(), pos))
            .collect();
        self.server_order = order;
    }

    pub fn image(&self, id: &str) -> Option<&Image> {
        self.image_pos
            .get(id)
            .map(|&pos| &self.world.images[self.image_order[pos]])
    }
}

/// Who a token speaks for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    /// `None` for an unscoped token.
    pub project_id: Option<String>,
    pub admin: bool,
    pub expires_at: DateTime<Utc>,
    /// Keystone compares issue and revocation times in whole seconds.
    pub issued_secs: i64,
}

/// A revocation event, as Keystone records one on a password change or a disable: tokens of
/// that user or project issued in that second or earlier stop working.
#[derive(Clone, Debug)]
struct Revocation {
    user_id: Option<String>,
    project_id: Option<String>,
    at_secs: i64,
}

pub struct Shared {
    pub base_url: String,
    pub resets: Resets,
    world: RwLock<Indexed>,
    tokens: Mutex<HashMap<String, Caller>>,
    faults: Mutex<FaultBook>,
    revocations: Mutex<Vec<Revocation>>,
    /// The cloud's clock: what scripted changes are stamped with, and Nova's "now" (the
    /// default end of a usage window, a running server's uptime).
    clock: Mutex<DateTime<Utc>>,
}

// A panicking test thread must not wedge the simulator for the next assertion.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(base_url: String, world: World) -> Self {
        Self {
            base_url,
            resets: Resets::default(),
            world: RwLock::new(Indexed::new(world)),
            tokens: Mutex::new(HashMap::new()),
            faults: Mutex::new(FaultBook::default()),
            revocations: Mutex::new(Vec::new()),
            clock: Mutex::new(Utc::now()),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Indexed> {
        self.world.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Indexed> {
        self.world.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn now(&self) -> DateTime<Utc> {
        *lock(&self.clock)
    }

    pub fn set_time(&self, t: DateTime<Utc>) {
        *lock(&self.clock) = t;
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultBook> {
        lock(&self.faults)
    }

    pub fn issue_token(&self, token: String, caller: Caller) {
        lock(&self.tokens).insert(token, caller);
    }

    /// Records revocation events for users whose password or enabled flag changed and for
    /// projects that were enabled or disabled between two states of the world.
    pub fn record_revocations(&self, before: &World, after: &World) {
        let at_secs = Utc::now().timestamp();
        let mut events = Vec::new();
        for user in &after.users {
            let changed = before
                .users
                .iter()
                .find(|u| u.id == user.id)
                .is_some_and(|u| u.password != user.password || u.enabled != user.enabled);
            if changed {
                events.push(Revocation {
                    user_id: Some(user.id.clone()),
                    project_id: None,
                    at_secs,
                });
            }
        }
        for project in &after.projects {
            let changed = before
                .projects
                .iter()
                .find(|p| p.id == project.id)
                .is_some_and(|p| p.enabled != project.enabled);
            if changed {
                events.push(Revocation {
                    user_id: None,
                    project_id: Some(project.id.clone()),
                    at_secs,
                });
            }
        }
        lock(&self.revocations).extend(events);
    }

    fn is_revoked(&self, caller: &Caller) -> bool {
        lock(&self.revocations).iter().any(|r| {
            r.at_secs >= caller.issued_secs
                && (r.user_id.as_ref() == Some(&caller.user_id)
                    || (r.project_id.is_some() && r.project_id == caller.project_id))
        })
    }

    pub fn revoke_token(&self, token: &str) {
        lock(&self.tokens).remove(token);
    }

    /// The caller of a valid token: known, not expired, its user and project still enabled.
    pub fn validate(&self, token: &str) -> Option<Caller> {
        let caller = lock(&self.tokens).get(token).cloned()?;
        if caller.expires_at <= Utc::now() || self.is_revoked(&caller) {
            return None;
        }
        let world = self.read();
        let user_ok = world
            .world
            .users
            .iter()
            .any(|u| u.id == caller.user_id && u.enabled);
        let project_ok = caller.project_id.as_ref().is_none_or(|pid| {
            world
                .world
                .projects
                .iter()
                .any(|p| &p.id == pid && p.enabled)
        });
        (user_ok && project_ok).then_some(caller)
    }
}
