//! The instances' lifecycle history in memory, one part per cloud, as reports read it: each
//! instance's stretches of its life, each with its status, size and the image (and name) it
//! counted for then. Reading the history from the database
//! for each report cost about a second per month of a 100,000-instance fleet (the rows, not
//! the sums), so the history is read once and then caught up: every write stamps the rows it
//! changes with the cloud's new `usage_version` (`usage_seq`), and a report reads only the
//! rows stamped after the version it holds. Deletions (a tenant removed, intervals pruned)
//! leave no stamp: a part whose row counts no longer match the database is read again whole.
//!
//! A report walks every stretch it counts, twice (which periods have rows, then the sums), so
//! the layout is what bounds it: a stretch is 24 bytes (its times, and two small numbers for
//! what it is billed at and what it counts for), kept in a life's own array in time order;
//! sizes and statuses are held once per part, names and image ids once per life.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use entity::{instance_intervals, instances, service_settings};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::catalog::db::epoch_millis;
use crate::catalog::{CloudId, DatedBy, ServerStatus, TenantId};

/// Rows per read: the history is read a chunk at a time, so reading it holds one chunk of
/// rows, not the whole history, beside what it builds.
const READ_CHUNK: u64 = 20_000;

/// The end of a stretch that still lasts.
pub(super) const OPEN: i64 = i64::MAX;

/// A stretch of an instance's life in one status, at one size, counting for one piece of
/// the life; times in milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stretch {
    pub from: i64,
    /// [`OPEN`] while it lasts.
    pub to: i64,
    /// Its status and size, in the part's [`CloudHistory::terms`].
    pub terms: u32,
    /// What it counted for, in the life's [`Life::pieces`].
    pub piece: u32,
}

/// What a stretch is billed at: the status as the bases tell them apart, and the size (0
/// where unknown: clouds older than Nova 2.47); and whether the sync that saw its start
/// dated it. A fleet has few of them, held once per part (the flag at most doubles them,
/// where a field of [`Stretch`] would grow every stretch past 24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Terms {
    pub stage: Stage,
    pub vcpus: i64,
    pub ram_mib: i64,
    pub disk_gib: i64,
    /// The start was dated by the sync (`started_by = sync`): no time Nova keeps could
    /// date it within the sync's window (a skewed clock, a rename).
    pub started_by_sync: bool,
}

/// What part of an instance's life counted for: an image (by Glance id) under a name. A
/// rename or a rebuild splits a life into pieces; most lives are one piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Piece {
    pub name: Arc<str>,
    pub image_id: Option<Arc<str>>,
}

/// A status as the billing bases tell them apart (see [`super::Basis`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Stage {
    /// `ACTIVE`.
    Active,
    /// The guest runs, in another status than `ACTIVE` (a resize to confirm, a reboot, …).
    Running,
    /// Stopped, paused, suspended or shelved: the guest holds a hypervisor's resources.
    Held,
    /// `ERROR`: held when the instance had run before.
    Error,
    /// Anything else: building, offloaded, deleted, unknown.
    Out,
}

impl Stage {
    pub fn of(status: &ServerStatus) -> Self {
        use ServerStatus as S;
        match status {
            S::Active => Self::Active,
            S::VerifyResize
            | S::Resize
            | S::RevertResize
            | S::Migrating
            | S::Reboot
            | S::HardReboot
            | S::Password
            | S::Rescue
            | S::Rebuild => Self::Running,
            S::Shutoff | S::Paused | S::Suspended | S::Shelved => Self::Held,
            S::Error => Self::Error,
            _ => Self::Out,
        }
    }

    /// Whether the guest runs.
    pub fn runs(self) -> bool {
        matches!(self, Self::Active | Self::Running)
    }
}

/// An instance as reports group and count it.
#[derive(Clone, Debug)]
pub(super) struct Life {
    pub tenant: TenantId,
    /// What it counts for now: its keys when it has no stretch to tell (an instance recorded
    /// before the history, or whose history was pruned).
    pub image_id: Option<Arc<str>>,
    pub name: Arc<str>,
    /// The server's `created`, which Nova never resets.
    pub created_at: Option<i64>,
    /// Whether its first stretch's start was dated by the sync that saw it.
    began_by_sync: bool,
    /// Terminated, else seen gone.
    pub ended_at: Option<i64>,
    /// Every stretch, ordered by start (then by row: a later row is a later record).
    pub stretches: Vec<Stretch>,
    /// Each stretch's row id, in the same order: catching up finds rows by id.
    ids: Vec<i64>,
    /// What its stretches counted for, each once.
    pub pieces: Vec<Piece>,
    /// When it first ran ([`OPEN`] if never): an `ERROR` after that holds resources.
    pub first_run: i64,
}

impl Life {
    fn new(tenant: TenantId, name: Arc<str>) -> Self {
        Self {
            tenant,
            image_id: None,
            name,
            created_at: None,
            began_by_sync: false,
            ended_at: None,
            stretches: Vec::new(),
            ids: Vec::new(),
            pieces: Vec::new(),
            first_run: OPEN,
        }
    }

    /// When it ended, as its recorded life ends: its latest stretch's end, else its
    /// termination (or when it was seen gone). The two differ when Nova's clock is skewed: a
    /// `terminated_at` before the sync that last listed the server live, or after the sync
    /// that found it gone, is dated by that sync, and the deletion is counted where its hours
    /// end, so a period every tenant has synced past keeps its count.
    pub fn end(&self) -> Option<i64> {
        let ended = self.ended_at?;
        Some(
            self.stretches
                .last()
                .map(|s| s.to)
                .filter(|to| *to != OPEN)
                .unwrap_or(ended),
        )
    }

    /// When it was created, as its recorded life begins: the server's `created`, unless the
    /// sync dated its first stretch (Nova's clock stamped the creation outside the window
    /// between the sync that found it and the tenant's previous one), then that stretch's
    /// start, so a period every tenant has synced past keeps its count. `None` when Nova
    /// told no `created`. (Retention may prune a life's first stretches; the next starts
    /// where the last pruned one ended, before the retention horizon, so a creation moved
    /// by that stays in the pruned periods.)
    pub fn created(&self) -> Option<i64> {
        let created = self.created_at?;
        Some(match self.stretches.first() {
            Some(first) if self.began_by_sync => first.from,
            _ => created,
        })
    }

    /// The index of `piece` among the life's pieces, added when new.
    fn piece_of(&mut self, piece: Piece) -> u32 {
        let at = match self.pieces.iter().position(|p| *p == piece) {
            Some(at) => at,
            None => {
                self.pieces.push(piece);
                self.pieces.len() - 1
            }
        };
        // A life has at most as many pieces as stretches, which an array in memory holds.
        u32::try_from(at).unwrap_or(u32::MAX)
    }

    /// Puts the stretch of row `id` in, replacing the row's earlier state unless the row is
    /// known to be new.
    fn put(&mut self, id: i64, stretch: Stretch, new: bool) {
        match (!new)
            .then(|| self.ids.iter().position(|held| *held == id))
            .flatten()
        {
            Some(at) => self.stretches[at] = stretch,
            None => {
                self.ids.push(id);
                self.stretches.push(stretch);
            }
        }
    }

    /// Restores the order of the stretches and what is derived from them, after rows were
    /// put in; `terms` is the part's.
    fn settle(&mut self, terms: &[Terms]) {
        let ordered = self
            .stretches
            .windows(2)
            .zip(self.ids.windows(2))
            .all(|(s, i)| (s[0].from, i[0]) <= (s[1].from, i[1]));
        if !ordered {
            let mut both: Vec<(i64, Stretch)> = self
                .ids
                .iter()
                .copied()
                .zip(self.stretches.iter().copied())
                .collect();
            both.sort_unstable_by_key(|(id, s)| (s.from, *id));
            (self.ids, self.stretches) = both.into_iter().unzip();
        }
        // Pieces no stretch counts for any more (a row that changed what it counts for).
        if self.pieces.len() > 1 {
            let mut used = vec![false; self.pieces.len()];
            for s in &self.stretches {
                used[s.piece as usize] = true;
            }
            if used.iter().any(|u| !u) {
                let mut renumber = vec![0u32; self.pieces.len()];
                let mut kept = 0u32;
                for (i, u) in used.iter().enumerate() {
                    renumber[i] = kept;
                    kept += u32::from(*u);
                }
                let mut i = 0;
                self.pieces.retain(|_| {
                    i += 1;
                    used[i - 1]
                });
                for s in &mut self.stretches {
                    s.piece = renumber[s.piece as usize];
                }
            }
        }
        // Anew, exactly sized, in the order lives are settled (the order reports walk them):
        // arrays grown row by row lie scattered, and a report reads them all.
        self.stretches = compact(&mut self.stretches);
        self.pieces = compact(&mut self.pieces);
        self.first_run = self
            .stretches
            .iter()
            .find(|s| terms[s.terms as usize].stage.runs())
            .map_or(OPEN, |s| s.from);
        self.began_by_sync = self
            .stretches
            .first()
            .is_some_and(|s| terms[s.terms as usize].started_by_sync);
    }
}

/// The items of `v` moved into an array of their own, exactly sized.
fn compact<T>(v: &mut Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(v.len());
    out.append(v);
    out
}

/// One cloud's history at one `usage_version`.
#[derive(Clone, Debug)]
pub(super) struct CloudHistory {
    pub cloud: CloudId,
    version: i64,
    /// Every instance, in no particular order.
    pub lives: Vec<Life>,
    /// Where each instance (by database id) is in `lives`.
    index: HashMap<i64, usize>,
    /// What stretches are billed at, each once.
    pub terms: Vec<Terms>,
    terms_index: HashMap<Terms, u32>,
    /// Interval rows of every status the part has seen, and the highest id among them: a
    /// changed row with a higher id is new (a cloud's writes are serialized, so its new rows
    /// always get higher ids).
    intervals: u64,
    last_interval: i64,
    /// Names and ids are shared by many instances: each is held once.
    strings: HashSet<Arc<str>>,
}

type InstanceRow = (
    i64,
    TenantId,
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);
type IntervalRow = (
    i64,
    i64,
    ServerStatus,
    i64,
    Option<i64>,
    Option<i32>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    String,
    Option<DatedBy>,
);

impl CloudHistory {
    /// Reads the cloud's whole history through `db` (the caller's consistent read).
    async fn load<C: ConnectionTrait>(db: &C, cloud: CloudId, version: i64) -> Result<Self, DbErr> {
        let mut part = Self {
            cloud,
            version,
            lives: Vec::new(),
            index: HashMap::new(),
            terms: Vec::new(),
            terms_index: HashMap::new(),
            intervals: 0,
            last_interval: 0,
            strings: HashSet::new(),
        };
        part.read(db, None).await?;
        Ok(part)
    }

    /// Reads the rows stamped after `since` (every row when `None`) into the part. Returns
    /// false when a row does not fit what the part holds (an interval of an unknown instance).
    async fn read<C: ConnectionTrait>(
        &mut self,
        db: &C,
        since: Option<i64>,
    ) -> Result<bool, DbErr> {
        self.read_instances(db, since).await?;
        let known = self.last_interval;
        if since.is_none() {
            let (count, last): (i64, Option<i64>) = instance_intervals::Entity::find()
                .select_only()
                .expr(Expr::col(instance_intervals::Column::Id).count())
                .expr(Expr::col(instance_intervals::Column::Id).max())
                .filter(instance_intervals::Column::CloudId.eq(self.cloud))
                .into_tuple()
                .one(db)
                .await?
                .unwrap_or_default();
            self.intervals = u64::try_from(count).unwrap_or_default();
            self.last_interval = last.unwrap_or_default();
        }
        let backend = db.get_database_backend();
        let millis = |c: &str| epoch_millis(backend, "instance_intervals", c);
        let mut fits = true;
        let mut touched: Vec<usize> = Vec::new();
        let mut after = i64::MIN;
        loop {
            let mut query = instance_intervals::Entity::find()
                .select_only()
                .column(instance_intervals::Column::Id)
                .column(instance_intervals::Column::InstanceId)
                .column(instance_intervals::Column::Status)
                .expr(millis("started_at"))
                .expr(millis("ended_at"))
                .column(instance_intervals::Column::Vcpus)
                .column(instance_intervals::Column::RamMib)
                .column(instance_intervals::Column::DiskGib)
                .column(instance_intervals::Column::ImageBackendId)
                .column(instance_intervals::Column::ImageName)
                .column(instance_intervals::Column::StartedBy)
                .filter(instance_intervals::Column::CloudId.eq(self.cloud))
                .filter(instance_intervals::Column::Id.gt(after));
            if let Some(since) = since {
                query = query.filter(instance_intervals::Column::UsageSeq.gt(since));
            }
            let rows: Vec<IntervalRow> = query
                .order_by_asc(instance_intervals::Column::Id)
                .limit(READ_CHUNK)
                .into_tuple()
                .all(db)
                .await?;
            let full = rows.len() as u64 == READ_CHUNK;
            for row in rows {
                let (id, instance, status, from, to, vcpus, ram_mib, disk_gib, image_id, name, by) =
                    row;
                after = id;
                if since.is_some() && id > known {
                    self.intervals += 1;
                    self.last_interval = Ord::max(self.last_interval, id);
                }
                let terms = self.terms_of(Terms {
                    stage: Stage::of(&status),
                    vcpus: vcpus.map_or(0, i64::from),
                    ram_mib: ram_mib.unwrap_or(0),
                    disk_gib: disk_gib.unwrap_or(0),
                    started_by_sync: by == Some(DatedBy::Sync),
                });
                let piece = Piece {
                    image_id: image_id.map(|i| self.intern(&i)),
                    name: self.intern(&name),
                };
                let Some(&at) = self.index.get(&instance) else {
                    fits = false;
                    continue;
                };
                let life = &mut self.lives[at];
                let stretch = Stretch {
                    from,
                    to: to.unwrap_or(OPEN),
                    terms,
                    piece: life.piece_of(piece),
                };
                life.put(id, stretch, since.is_none() || id > known);
                if touched.last() != Some(&at) {
                    touched.push(at);
                }
            }
            if !full {
                break;
            }
        }
        // In the order of the lives, each once.
        touched.sort_unstable();
        touched.dedup();
        for at in touched {
            self.lives[at].settle(&self.terms);
        }
        Ok(fits)
    }

    /// Reads the instances stamped after `since` (every one when `None`), a chunk at a time.
    async fn read_instances<C: ConnectionTrait>(
        &mut self,
        db: &C,
        since: Option<i64>,
    ) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let millis = |c: &str| epoch_millis(backend, "instances", c);
        let mut after = i64::MIN;
        loop {
            let mut query = instances::Entity::find()
                .select_only()
                .column(instances::Column::Id)
                .column(instances::Column::TenantId)
                .column(instances::Column::ImageBackendId)
                .column(instances::Column::ImageName)
                .expr(millis("backend_created_at"))
                .expr(millis("terminated_at"))
                .expr(millis("deleted_at"))
                .filter(instances::Column::CloudId.eq(self.cloud))
                .filter(instances::Column::Id.gt(after));
            if let Some(since) = since {
                query = query.filter(instances::Column::UsageSeq.gt(since));
            }
            let rows: Vec<InstanceRow> = query
                .order_by_asc(instances::Column::Id)
                .limit(READ_CHUNK)
                .into_tuple()
                .all(db)
                .await?;
            let full = rows.len() as u64 == READ_CHUNK;
            for (id, tenant, image_id, name, created, terminated, deleted) in rows {
                after = id;
                let image_id = image_id.map(|i| self.intern(&i));
                let name = self.intern(&name);
                let at = *self.index.entry(id).or_insert_with(|| {
                    self.lives.push(Life::new(tenant, name.clone()));
                    self.lives.len() - 1
                });
                let life = &mut self.lives[at];
                life.tenant = tenant;
                life.image_id = image_id;
                life.name = name;
                life.created_at = created;
                life.ended_at = terminated.or(deleted);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// The index of `terms` in the part's table, added when new.
    fn terms_of(&mut self, terms: Terms) -> u32 {
        let next = u32::try_from(self.terms.len()).unwrap_or(u32::MAX);
        *self.terms_index.entry(terms).or_insert_with(|| {
            self.terms.push(terms);
            next
        })
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(held) = self.strings.get(s) {
            return held.clone();
        }
        let held: Arc<str> = Arc::from(s);
        self.strings.insert(held.clone());
        held
    }

    /// Catches up from its version to `version`: the rows stamped since, then a check that
    /// nothing was deleted. Returns false when the part must be read again whole.
    async fn catch_up<C: ConnectionTrait>(&mut self, db: &C, version: i64) -> Result<bool, DbErr> {
        if !self.read(db, Some(self.version)).await? {
            return Ok(false);
        }
        self.version = version;
        let instances: u64 = instances::Entity::find()
            .filter(instances::Column::CloudId.eq(self.cloud))
            .count(db)
            .await?;
        let intervals: u64 = instance_intervals::Entity::find()
            .filter(instance_intervals::Column::CloudId.eq(self.cloud))
            .count(db)
            .await?;
        Ok(instances == self.lives.len() as u64 && intervals == self.intervals)
    }
}

/// The history of every cloud, caught up by each report.
#[derive(Default)]
pub struct History {
    parts: tokio::sync::Mutex<HashMap<CloudId, Arc<CloudHistory>>>,
}

impl History {
    /// Every cloud's part as the database holds it now. A part a caller still reads (a CSV
    /// being streamed) is copied before it is changed, not changed under it.
    pub(super) async fn current(
        &self,
        db: &DatabaseConnection,
    ) -> Result<Vec<Arc<CloudHistory>>, DbErr> {
        let mut parts = self.parts.lock().await;
        let txn = crate::catalog::db::begin_snapshot_read(db).await?;
        let versions: Vec<(CloudId, i64)> = service_settings::Entity::find()
            .select_only()
            .column(service_settings::Column::Id)
            .column(service_settings::Column::UsageVersion)
            .into_tuple()
            .all(&txn)
            .await?;
        parts.retain(|cloud, _| versions.iter().any(|(c, _)| c == cloud));
        for &(cloud, version) in &versions {
            let caught_up = match parts.get_mut(&cloud) {
                Some(part) if part.version == version => true,
                Some(part) => Arc::make_mut(part).catch_up(&txn, version).await?,
                None => false,
            };
            if !caught_up {
                let started = std::time::Instant::now();
                let part = CloudHistory::load(&txn, cloud, version).await?;
                tracing::debug!(
                    cloud = cloud.0,
                    instances = part.lives.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "usage history read"
                );
                parts.insert(cloud, Arc::new(part));
            }
        }
        txn.commit().await?;
        let mut out: Vec<Arc<CloudHistory>> = parts.values().cloned().collect();
        out.sort_by_key(|p| p.cloud);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(name: &str) -> Piece {
        Piece {
            name: Arc::from(name),
            image_id: None,
        }
    }

    fn stretch(from: i64, to: i64, terms: u32, piece: u32) -> Stretch {
        Stretch {
            from,
            to,
            terms,
            piece,
        }
    }

    const TERMS: [Terms; 2] = [
        Terms {
            stage: Stage::Held,
            vcpus: 1,
            ram_mib: 1024,
            disk_gib: 10,
            started_by_sync: false,
        },
        Terms {
            stage: Stage::Active,
            vcpus: 1,
            ram_mib: 1024,
            disk_gib: 10,
            started_by_sync: false,
        },
    ];

    #[test]
    fn stretches_are_kept_in_time_then_row_order() {
        let mut life = Life::new(TenantId(1), Arc::from("x"));
        let p = life.piece_of(piece("x"));
        life.put(3, stretch(200, OPEN, 1, p), true);
        life.put(1, stretch(100, 200, 0, p), true);
        life.put(2, stretch(100, 150, 0, p), true);
        life.settle(&TERMS);
        assert_eq!(life.ids, [1, 2, 3]);
        assert_eq!(life.stretches.first().map(|s| s.to), Some(200));
        assert_eq!(life.first_run, 200);
        // A row read again replaces its stretch where it stands.
        life.put(3, stretch(200, 300, 1, p), false);
        life.settle(&TERMS);
        assert_eq!(life.ids, [1, 2, 3]);
        assert_eq!(life.stretches.last().map(|s| s.to), Some(300));
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_life_ends_where_its_latest_stretch_was_closed() {
        // Terminated at h9.5 by a Nova clock behind the service's; the sync at h10 had listed
        // it live, so its hours end at h10 and so does its life.
        let mut l = Life::new(TenantId(1), Arc::from("x"));
        let p = l.piece_of(piece("x"));
        l.ended_at = Some(9 * HOUR + HOUR / 2);
        l.put(2, stretch(4 * HOUR, OPEN, 1, p), true);
        l.put(1, stretch(0, 4 * HOUR, 1, p), true);
        l.settle(&TERMS);
        assert_eq!(l.end(), l.ended_at, "the latest stretch still open");
        l.put(2, stretch(4 * HOUR, 10 * HOUR, 1, p), false);
        l.settle(&TERMS);
        assert_eq!(l.end(), Some(10 * HOUR));
        assert_eq!(l.stretches.len(), 2, "a changed row replaces the one held");
    }

    #[test]
    fn a_life_without_stretches_ends_at_its_termination_and_a_live_one_never() {
        let mut ended = Life::new(TenantId(1), Arc::from("x"));
        ended.ended_at = Some(7 * HOUR);
        assert_eq!(ended.end(), Some(7 * HOUR));
        let mut live = Life::new(TenantId(1), Arc::from("x"));
        let p = live.piece_of(piece("x"));
        live.put(1, stretch(0, 4 * HOUR, 1, p), true);
        live.settle(&TERMS);
        assert_eq!(live.end(), None);
    }

    #[test]
    fn a_life_is_created_where_its_first_stretch_began_when_the_sync_dated_it() {
        let mut terms = TERMS.to_vec();
        terms.push(Terms {
            started_by_sync: true,
            ..TERMS[1]
        });
        let by_sync = (terms.len() - 1) as u32;
        // Created at h23.5 by a Nova clock behind the service's, first seen by the sync
        // after the one at h24, which dated its start.
        let mut l = Life::new(TenantId(1), Arc::from("x"));
        let p = l.piece_of(piece("x"));
        l.created_at = Some(23 * HOUR + HOUR / 2);
        l.put(1, stretch(24 * HOUR, OPEN, by_sync, p), true);
        l.settle(&terms);
        assert_eq!(l.created(), Some(24 * HOUR));
        // Dated by Nova's time: Nova's `created`, before the start (a BUILD not recorded).
        l.put(1, stretch(24 * HOUR, OPEN, 1, p), false);
        l.settle(&terms);
        assert_eq!(l.created(), l.created_at);
        // Only the first stretch tells: a later one dated by a sync (a rename) does not.
        l.put(2, stretch(30 * HOUR, OPEN, by_sync, p), true);
        l.settle(&terms);
        assert_eq!(l.created(), l.created_at);
        // Nova told no `created`: none counted, as before.
        l.created_at = None;
        assert_eq!(l.created(), None);
    }

    #[test]
    fn a_piece_no_stretch_counts_for_is_dropped() {
        let mut life = Life::new(TenantId(1), Arc::from("new"));
        let old = life.piece_of(piece("old"));
        let new = life.piece_of(piece("new"));
        assert_eq!((old, new), (0, 1));
        assert_eq!(life.piece_of(piece("old")), 0);
        life.put(1, stretch(100, 200, 1, old), true);
        life.put(2, stretch(200, OPEN, 1, new), true);
        life.settle(&TERMS);
        assert_eq!(life.pieces.len(), 2);
        // The first row is recorded again under the new name (a backfill): one piece left.
        life.put(1, stretch(100, 200, 1, new), false);
        life.settle(&TERMS);
        assert_eq!(life.pieces, [piece("new")]);
        assert!(life.stretches.iter().all(|s| s.piece == 0));
        assert_eq!(life.first_run, 100);
    }
}
