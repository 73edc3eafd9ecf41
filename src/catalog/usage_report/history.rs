//! The instances' lifecycle history in memory, one part per cloud, as reports read it: each
//! instance's stretches of its life, each with its status, size and the image (and name) it
//! counted for then. Reading the history from the database
//! for each report cost about a second per month of a 100,000-instance fleet (the rows, not
//! the sums), so the history is read once and then caught up: every write stamps the rows it
//! changes with the cloud's new `usage_version` (`usage_seq`), and a report reads only the
//! rows stamped after the version it holds. Deletions (a tenant removed, intervals pruned)
//! leave no stamp: a part whose row counts no longer match the database is read again whole.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use entity::{instance_intervals, instances, service_settings};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::catalog::db::epoch_millis;
use crate::catalog::{CloudId, ServerStatus, TenantId};

/// Rows per read: the history is read a chunk at a time, so reading it holds one chunk of
/// rows, not the whole history, beside what it builds.
const READ_CHUNK: u64 = 20_000;

/// A stretch of an instance's life in one status; times in milliseconds since the epoch.
#[derive(Clone, Debug)]
pub(super) struct Stretch {
    id: i64,
    pub from: i64,
    /// `None` while it lasts.
    pub to: Option<i64>,
    pub stage: Stage,
    /// The billed size; 0 where unknown (clouds older than Nova 2.47).
    pub vcpus: i64,
    pub ram_mib: i64,
    pub disk_gib: i64,
    /// What it counted for then.
    pub image_id: Option<Arc<str>>,
    pub name: Arc<str>,
}

impl Stretch {
    /// The row's id: later rows have higher ones.
    pub fn id(&self) -> i64 {
        self.id
    }
}

/// A status as the billing bases tell them apart (see [`super::Basis`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Terminated, else seen gone.
    pub ended_at: Option<i64>,
    /// Every stretch, in no particular order.
    pub stretches: Vec<Stretch>,
    /// The latest stretch's start, row id and end: where the recorded life ends.
    latest: Option<(i64, i64, Option<i64>)>,
}

impl Life {
    /// When it ended, as its recorded life ends: its latest stretch's end, else its
    /// termination (or when it was seen gone). The two differ when Nova's clock is skewed: a
    /// `terminated_at` before the sync that last listed the server live, or after the sync
    /// that found it gone, is dated by that sync, and the deletion is counted where its hours
    /// end, so a period every tenant has synced past keeps its count.
    pub fn end(&self) -> Option<i64> {
        let ended = self.ended_at?;
        Some(self.latest.and_then(|(_, _, to)| to).unwrap_or(ended))
    }

    /// Holds `s` as one of its stretches, new or changed (a row's start never changes; its
    /// end is set once).
    fn hold(&mut self, s: Stretch) {
        if self
            .latest
            .is_none_or(|(from, id, _)| (from, id) <= (s.from, s.id))
        {
            self.latest = Some((s.from, s.id, s.to));
        }
        match self.stretches.iter_mut().find(|held| held.id == s.id) {
            Some(held) => *held = s,
            None => self.stretches.push(s),
        }
    }
}

/// One cloud's history at one `usage_version`.
#[derive(Clone, Debug)]
pub(super) struct CloudHistory {
    pub cloud: CloudId,
    version: i64,
    pub lives: HashMap<i64, Life>,
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
);

impl CloudHistory {
    /// Reads the cloud's whole history through `db` (the caller's consistent read).
    async fn load<C: ConnectionTrait>(db: &C, cloud: CloudId, version: i64) -> Result<Self, DbErr> {
        let mut part = Self {
            cloud,
            version,
            lives: HashMap::new(),
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
            for (id, instance, status, from, to, vcpus, ram_mib, disk_gib, image_id, name) in rows {
                after = id;
                if since.is_some() && id > known {
                    self.intervals += 1;
                    self.last_interval = Ord::max(self.last_interval, id);
                }
                let stretch = Stretch {
                    id,
                    from,
                    to,
                    stage: Stage::of(&status),
                    vcpus: vcpus.map_or(0, i64::from),
                    ram_mib: ram_mib.unwrap_or(0),
                    disk_gib: disk_gib.unwrap_or(0),
                    image_id: image_id.map(|i| self.intern(&i)),
                    name: self.intern(&name),
                };
                let Some(life) = self.lives.get_mut(&instance) else {
                    fits = false;
                    continue;
                };
                life.hold(stretch);
            }
            if !full {
                return Ok(fits);
            }
        }
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
                let life = self.lives.entry(id).or_insert_with(|| Life {
                    tenant,
                    image_id: None,
                    name: name.clone(),
                    created_at: None,
                    ended_at: None,
                    stretches: Vec::new(),
                    latest: None,
                });
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

    const HOUR: i64 = 3_600_000;

    fn stretch(id: i64, from: i64, to: Option<i64>) -> Stretch {
        Stretch {
            id,
            from: from * HOUR,
            to: to.map(|t| t * HOUR),
            stage: Stage::Active,
            vcpus: 1,
            ram_mib: 1024,
            disk_gib: 10,
            image_id: None,
            name: Arc::from("x"),
        }
    }

    fn life(ended: Option<i64>) -> Life {
        Life {
            tenant: TenantId(1),
            image_id: None,
            name: Arc::from("x"),
            created_at: Some(0),
            ended_at: ended.map(|e| e * HOUR),
            stretches: Vec::new(),
            latest: None,
        }
    }

    #[test]
    fn a_life_ends_where_its_latest_stretch_was_closed() {
        // Terminated at h9.5 by a Nova clock behind the service's; the sync at h10 had listed
        // it live, so its hours end at h10 and so does its life.
        let mut l = life(None);
        l.ended_at = Some(9 * HOUR + HOUR / 2);
        l.hold(stretch(2, 4, None));
        l.hold(stretch(1, 0, Some(4)));
        assert_eq!(l.end(), l.ended_at, "the latest stretch still open");
        l.hold(stretch(2, 4, Some(10)));
        assert_eq!(l.end(), Some(10 * HOUR));
        assert_eq!(l.stretches.len(), 2, "a changed row replaces the one held");
    }

    #[test]
    fn a_life_without_stretches_ends_at_its_termination_and_a_live_one_never() {
        assert_eq!(life(Some(7)).end(), Some(7 * HOUR));
        let mut live = life(None);
        live.hold(stretch(1, 0, Some(4)));
        assert_eq!(live.end(), None);
    }
}
