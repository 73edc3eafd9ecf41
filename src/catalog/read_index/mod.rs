//! An in-memory index of the image listing. The list's rules (order by name then uuid, the
//! newest image per (cloud, name) among those that pass the filters, an exact total) make SQL
//! visit every matching row on each request: seconds at a million images. The index holds the
//! listing's sort and filter keys in compact arrays, one segment per cloud, answers list and
//! count requests in one pass over each cloud's smallest candidate set (a tenant's images, one
//! name's, or all), merges the clouds' answers, and remembers each answer until the catalog
//! changes, so paging through a result costs one pass. Rows are still read from the database,
//! a page at a time.
//!
//! Freshness: every write to a cloud's images or links raises that cloud's `catalog_version`
//! (see [`touch`]). The catalog refreshes the index after its own writes before they return,
//! so this process lists what it wrote at once. A request compares the versions (one small
//! query) with those the index was built from; when another process wrote, the request is
//! answered from the last complete snapshot while a rebuild runs in the background, reading
//! again only the clouds that changed; requests look at most every `VERSION_POLL`. SQL answers only before the first snapshot exists:
//! answered by SQL, a list visits every matching row (seconds at scale), and readers that fell
//! back to it while syncs wrote took the machine (measured by `cargo bench --bench reads`).
mod cache;
mod detail;
mod segment;
mod usage;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use entity::{service_settings, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::images::{ImageDetail, ImageFilter, ImageOrder, SortKey};
use super::offerings::OfferingScope;
use super::{CloudId, Scope, TenantId};
use cache::{Cache, Rendered, cached};
pub use detail::{stored_properties, stored_tags};
use segment::{Rule, Segment};
use usage::CloudUsage;
pub use usage::Counts;

/// Marks a cloud's listing as changed. Call it in the transaction that changes the cloud's
/// images or links.
pub(super) async fn touch<C: ConnectionTrait>(db: &C, cloud: CloudId) -> Result<(), DbErr> {
    service_settings::Entity::update_many()
        .col_expr(
            service_settings::Column::CatalogVersion,
            Expr::col(service_settings::Column::CatalogVersion).add(1),
        )
        .filter(service_settings::Column::Id.eq(cloud))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks a cloud's instance counts as changed. Call it in the transaction that changes the
/// cloud's instances.
pub(super) async fn touch_usage<C: ConnectionTrait>(db: &C, cloud: CloudId) -> Result<(), DbErr> {
    service_settings::Entity::update_many()
        .col_expr(
            service_settings::Column::UsageVersion,
            Expr::col(service_settings::Column::UsageVersion).add(1),
        )
        .filter(service_settings::Column::Id.eq(cloud))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks every cloud's instance history as changed (after deleting old intervals).
pub(super) async fn touch_usage_of_every_cloud<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    service_settings::Entity::update_many()
        .col_expr(
            service_settings::Column::UsageVersion,
            Expr::col(service_settings::Column::UsageVersion).add(1),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// The cloud's listing version now (0 for a cloud never written).
pub(super) async fn catalog_version<C: ConnectionTrait>(
    db: &C,
    cloud: CloudId,
) -> Result<i64, DbErr> {
    version(db, cloud, service_settings::Column::CatalogVersion).await
}

/// The `usage_version` the current write to the cloud's instances will make (it raises the
/// version by one when it commits, see [`touch_usage`]): rows it writes carry it as their
/// `usage_seq`. Call it after taking the cloud's write lock.
pub(super) async fn next_usage_seq<C: ConnectionTrait>(
    db: &C,
    cloud: CloudId,
) -> Result<i64, DbErr> {
    Ok(version(db, cloud, service_settings::Column::UsageVersion).await? + 1)
}

/// One of the cloud's version columns (0 for a cloud that is gone).
async fn version<C: ConnectionTrait>(
    db: &C,
    cloud: CloudId,
    column: service_settings::Column,
) -> Result<i64, DbErr> {
    let version: Option<i64> = service_settings::Entity::find_by_id(cloud)
        .select_only()
        .column(column)
        .into_tuple()
        .one(db)
        .await?;
    Ok(version.unwrap_or_default())
}

/// A cloud's versions: of its listing (images, links) and of its instance counts.
type Versions = (CloudId, i64, i64);

/// Every cloud's versions, by id.
async fn versions<C: ConnectionTrait>(db: &C) -> Result<Vec<Versions>, DbErr> {
    service_settings::Entity::find()
        .select_only()
        .column(service_settings::Column::Id)
        .column(service_settings::Column::CatalogVersion)
        .column(service_settings::Column::UsageVersion)
        .order_by_asc(service_settings::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// The index of one process: the current snapshot, if any, and whether a rebuild runs.
pub struct ReadIndex {
    enabled: bool,
    /// Rebuilds read through a pool of their own: requests answered by SQL while the index is
    /// stale could otherwise hold every read connection and starve the rebuild (measured: the
    /// index stayed stale for minutes under 8 readers).
    db: DatabaseConnection,
    current: RwLock<Option<Arc<Snapshot>>>,
    building: AtomicBool,
    /// Serializes rebuilds: a refresh after a write waits for any rebuild in flight, then
    /// reads what that one may have missed.
    rebuilding: tokio::sync::Mutex<()>,
    /// Rebuilds started so far: a refresh skips its own when one started after it was asked
    /// for (several syncs' applies finishing together then cost one rebuild, not several).
    rebuilds_started: AtomicU64,
    /// When a request last compared the catalog versions with the snapshot's.
    checked: Mutex<Option<std::time::Instant>>,
    served: AtomicU64,
    /// When the snapshot in `current` was built.
    built: Mutex<Option<std::time::Instant>>,
}

/// How often requests look for other processes' writes (one small query): the rest trust the
/// snapshot. This process's own writes refresh the index before they return.
const VERSION_POLL: std::time::Duration = std::time::Duration::from_millis(250);

impl ReadIndex {
    /// `enabled = false` answers every request with SQL; `db` is the rebuilds' own pool.
    pub fn new(enabled: bool, db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            enabled,
            db,
            current: RwLock::new(None),
            building: AtomicBool::new(false),
            rebuilding: tokio::sync::Mutex::new(()),
            rebuilds_started: AtomicU64::new(0),
            checked: Mutex::new(None),
            served: AtomicU64::new(0),
            built: Mutex::new(None),
        })
    }

    /// The snapshot to answer from: the last complete one, also when another process has
    /// written since (a rebuild then starts in the background, one at a time). `None` only
    /// before the first snapshot exists.
    pub async fn current(
        self: &Arc<Self>,
        db: &DatabaseConnection,
    ) -> Result<Option<Arc<Snapshot>>, DbErr> {
        if !self.enabled {
            return Ok(None);
        }
        let Some(snapshot) = self.snapshot() else {
            self.rebuild_in_background();
            return Ok(None);
        };
        if self.due_for_version_check() && !snapshot.is_at(&versions(db).await?) {
            self.rebuild_in_background();
        }
        self.served.fetch_add(1, Ordering::Relaxed);
        Ok(Some(snapshot))
    }

    /// Whether this request should look for other processes' writes (one per `VERSION_POLL`).
    fn due_for_version_check(&self) -> bool {
        let Ok(mut checked) = self.checked.lock() else {
            return true;
        };
        let now = std::time::Instant::now();
        if checked.is_some_and(|at| now.duration_since(at) < VERSION_POLL) {
            return false;
        }
        *checked = Some(now);
        true
    }

    /// Brings the index up to date with the database before returning: the catalog calls it
    /// after its own writes.
    pub async fn refresh(&self) -> Result<(), DbErr> {
        if !self.enabled {
            return Ok(());
        }
        // A rebuild that starts after this point reads the caller's committed write.
        let asked = self.rebuilds_started.load(Ordering::Acquire);
        let guard = self.rebuilding.lock().await;
        if self.rebuilds_started.load(Ordering::Acquire) > asked {
            // One started after the call (and, as the lock is free, finished): it read it.
            return Ok(());
        }
        self.rebuild_locked(guard).await.map(|_| ())
    }

    /// The rebuilds' own pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Requests answered from the index so far (the rest went to SQL).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// How long ago the current snapshot was built; `None` before the first.
    pub fn age(&self) -> Option<std::time::Duration> {
        let built = *self.built.lock().ok()?;
        built.map(|at| at.elapsed())
    }

    fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok().and_then(|s| s.clone())
    }

    /// Starts building the index in the background (when enabled and not already building).
    pub fn warm(self: &Arc<Self>) {
        if self.enabled {
            self.rebuild_in_background();
        }
    }

    fn rebuild_in_background(self: &Arc<Self>) {
        if self.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let index = self.clone();
        tokio::spawn(async move {
            if let Err(e) = index.rebuild().await {
                tracing::warn!(error = %e, "listing index rebuild failed; SQL answers meanwhile");
            }
            index.building.store(false, Ordering::Release);
        });
    }

    /// Builds a snapshot of the database as it is now and installs it. Clouds whose version
    /// has not changed keep their part (and its cached answers). Returns how many clouds were
    /// read from the database.
    pub async fn rebuild(&self) -> Result<usize, DbErr> {
        if !self.enabled {
            return Ok(0);
        }
        let guard = self.rebuilding.lock().await;
        self.rebuild_locked(guard).await
    }

    /// The rebuild itself, one at a time (the caller holds the lock).
    async fn rebuild_locked(
        &self,
        _one_at_a_time: tokio::sync::MutexGuard<'_, ()>,
    ) -> Result<usize, DbErr> {
        self.rebuilds_started.fetch_add(1, Ordering::AcqRel);
        let started = std::time::Instant::now();
        let previous = self.snapshot();
        let (snapshot, reloaded) = Snapshot::load(&self.db, previous.as_deref()).await?;
        // The unfiltered staff listing is the most common first request.
        snapshot.matching(&ImageFilter::default(), &Scope::All, &[]);
        tracing::debug!(
            images = snapshot.segments.iter().map(|s| s.len()).sum::<usize>(),
            clouds = snapshot.segments.len(),
            reloaded,
            ms = started.elapsed().as_millis() as u64,
            "listing index built"
        );
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(snapshot));
        }
        if let Ok(mut built) = self.built.lock() {
            *built = Some(started);
        }
        crate::metrics::get().index_rebuilt();
        Ok(reloaded)
    }
}

/// A list's next entry in a merge: its sort key, the list, the place in it (smallest first).
type Head<'a> = Reverse<((&'a str, &'a Uuid), usize, usize)>;

/// The whole listing index at one moment: one segment per cloud, and what maps the API's
/// uuids to database ids. A hit is a segment number (high 32 bits) and a position in it.
pub struct Snapshot {
    /// One per cloud, in cloud id order.
    segments: Vec<Arc<Segment>>,
    /// One per cloud, in the segments' order.
    usage: Vec<Arc<CloudUsage>>,
    /// Clouds marked shared (the `shared` filter of `usage_stats`).
    shared_clouds: Vec<CloudId>,
    cloud_ids: HashMap<Uuid, CloudId>,
    cloud_uuids: HashMap<CloudId, Uuid>,
    tenant_ids: HashMap<Uuid, TenantId>,
    tenant_clouds: HashMap<TenantId, CloudId>,
    hits: Mutex<Cache<u64>>,
    names: Mutex<Cache<Box<str>>>,
    /// What the API made of this snapshot's answers (see [`Snapshot::rendered`]).
    rendered: Mutex<Rendered>,
}

impl Snapshot {
    /// Reads the versions and the changed clouds in one consistent view of the database,
    /// reusing `previous`'s segments of unchanged clouds. Returns the snapshot and how many
    /// clouds were read.
    async fn load(
        db: &DatabaseConnection,
        previous: Option<&Snapshot>,
    ) -> Result<(Self, usize), DbErr> {
        let txn = crate::catalog::db::begin_snapshot_read(db).await?;
        let versions = versions(&txn).await?;
        let mut segments = Vec::with_capacity(versions.len());
        let mut usage = Vec::with_capacity(versions.len());
        let mut reloaded = 0;
        for &(cloud, version, usage_version) in &versions {
            let kept = previous
                .and_then(|p| p.segments.iter().find(|s| s.cloud == cloud))
                .filter(|s| s.version == version);
            match kept {
                Some(segment) => segments.push(segment.clone()),
                None => {
                    segments.push(Arc::new(Segment::load(&txn, cloud, version).await?));
                    reloaded += 1;
                }
            }
            let kept = previous
                .and_then(|p| p.usage.iter().find(|u| u.cloud == cloud))
                .filter(|u| u.version == usage_version);
            match kept {
                Some(counts) => usage.push(counts.clone()),
                None => usage.push(Arc::new(
                    CloudUsage::load(&txn, cloud, usage_version).await?,
                )),
            }
        }
        let cloud_rows: Vec<(Uuid, CloudId, bool)> = service_settings::Entity::find()
            .select_only()
            .column(service_settings::Column::Uuid)
            .column(service_settings::Column::Id)
            .column(service_settings::Column::Shared)
            .into_tuple()
            .all(&txn)
            .await?;
        let tenant_rows: Vec<(TenantId, Uuid, CloudId)> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::Uuid)
            .column(tenants::Column::CloudId)
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok((
            Self {
                segments,
                usage,
                shared_clouds: cloud_rows
                    .iter()
                    .filter(|&&(_, _, shared)| shared)
                    .map(|&(_, id, _)| id)
                    .collect(),
                cloud_ids: cloud_rows.iter().map(|&(uuid, id, _)| (uuid, id)).collect(),
                cloud_uuids: cloud_rows.iter().map(|&(uuid, id, _)| (id, uuid)).collect(),
                tenant_ids: tenant_rows
                    .iter()
                    .map(|(id, uuid, _)| (*uuid, *id))
                    .collect(),
                tenant_clouds: tenant_rows.iter().map(|(id, _, s)| (*id, *s)).collect(),
                hits: Mutex::new(Cache::default()),
                names: Mutex::new(Cache::default()),
                rendered: Mutex::new(Rendered::default()),
            },
            reloaded,
        ))
    }

    /// What the API made of an answer of this snapshot, remembered under `key` by
    /// [`Snapshot::keep_rendered`]. The key must name everything the rendering depends on
    /// besides the snapshot: the caller's scope, the request (path and whole query). A
    /// snapshot is never changed, only replaced, so nothing remembered here goes stale.
    pub fn rendered<R: std::any::Any + Send + Sync>(&self, key: &str) -> Option<Arc<R>> {
        self.rendered.lock().ok()?.get(key)
    }

    /// Remembers a rendering of about `bytes` bytes under `key` while this snapshot lives.
    pub fn keep_rendered<R: std::any::Any + Send + Sync>(
        &self,
        key: String,
        rendering: Arc<R>,
        bytes: usize,
    ) {
        if let Ok(mut rendered) = self.rendered.lock() {
            rendered.insert(key, rendering, bytes);
        }
    }

    /// Whether the snapshot holds exactly these clouds at these versions.
    fn is_at(&self, versions: &[Versions]) -> bool {
        self.segments
            .iter()
            .zip(&self.usage)
            .map(|(s, u)| (s.cloud, s.version, u.version))
            .eq(versions.iter().copied())
    }

    /// The clouds `usage_stats`' filters keep (`None`: every cloud): marked shared or not,
    /// and among these uuids when any are given (an unknown uuid keeps nothing).
    pub fn clouds_matching(&self, shared: Option<bool>, uuids: &[Uuid]) -> Option<Vec<CloudId>> {
        if shared.is_none() && uuids.is_empty() {
            return None;
        }
        let by_uuid: Vec<CloudId> = uuids
            .iter()
            .filter_map(|u| self.cloud_ids.get(u).copied())
            .collect();
        Some(
            self.segments
                .iter()
                .map(|s| s.cloud)
                .filter(|c| shared.is_none_or(|want| self.shared_clouds.contains(c) == want))
                .filter(|c| uuids.is_empty() || by_uuid.contains(c))
                .collect(),
        )
    }

    /// Instances of images named `name` in these clouds (every cloud when `None`) that the
    /// caller sees: its tenants' instances, or every one for staff.
    pub fn usage_counts(&self, name: &str, scope: &Scope, clouds: Option<&[CloudId]>) -> Counts {
        let visible = match scope {
            Scope::All => None,
            Scope::Tenants(ids) => Some(ids.as_slice()),
        };
        let mut sum = Counts::default();
        for u in &self.usage {
            if clouds.is_none_or(|c| c.contains(&u.cloud)) {
                sum += u.counts(name, visible);
            }
        }
        sum
    }

    /// The image a hit points at, as a list shows it to a caller in `scope` (`None` for a
    /// cloud unknown to the snapshot, which cannot happen for its own hits).
    pub fn listed(&self, hit: u64, scope: &Scope) -> Option<ImageDetail> {
        let segment = &self.segments[(hit >> 32) as usize];
        let listed = segment.listed(hit as u32);
        let (x, d) = (listed.extra, listed.dicts);
        let text = |dict: &detail::Dict, code: u32| dict.get(code).map(String::from);
        let (tenants_count, memberships) = match scope {
            Scope::All => (listed.tenants.len(), Vec::new()),
            Scope::Tenants(ids) => (
                listed.tenants.iter().filter(|t| ids.contains(t)).count(),
                segment.member_statuses(hit as u32, ids),
            ),
        };
        Some(ImageDetail {
            uuid: listed.uuid,
            cloud_uuid: self.cloud_uuid(segment.cloud)?,
            name: listed.name.to_string(),
            backend_id: listed.backend_id.to_string(),
            min_disk: listed.min_disk,
            min_ram: listed.min_ram,
            backend_created_at: listed.created,
            backend_updated_at: (x.updated != i64::MIN)
                .then(|| chrono::DateTime::from_timestamp_micros(x.updated))
                .flatten(),
            hw_rescue_device: listed.rescue_device.to_string(),
            hw_rescue_bus: listed.rescue_bus.to_string(),
            status: text(&d.status, x.status).unwrap_or_default(),
            visibility: x.visibility,
            size: x.size,
            virtual_size: x.virtual_size,
            disk_format: text(&d.disk_format, x.disk_format),
            container_format: text(&d.container_format, x.container_format),
            checksum: x.checksum.as_deref().map(String::from),
            os_hash_algo: text(&d.hash_algo, x.hash_algo),
            os_hash_value: x.hash_value.as_deref().map(String::from),
            owner: text(&d.owner, x.owner),
            protected: x.protected,
            os_hidden: x.os_hidden,
            tags: x.tags.iter().filter_map(|&t| text(&d.tag, t)).collect(),
            properties: x
                .properties
                .iter()
                .filter_map(|&(k, v)| Some((text(&d.prop_key, k)?, text(&d.prop_value, v)?)))
                .collect(),
            tenants_count: tenants_count as u64,
            memberships,
        })
    }

    /// The image with this uuid as a list shows it, if the caller sees it.
    pub fn find(&self, uuid: &Uuid, scope: &Scope) -> Option<ImageDetail> {
        let tenants = match scope {
            Scope::All => None,
            Scope::Tenants(ids) => Some(ids.as_slice()),
        };
        self.segments.iter().enumerate().find_map(|(i, s)| {
            let p = s.position_of(uuid)?;
            s.visible_to(p, tenants)
                .then(|| self.listed(((i as u64) << 32) | u64::from(p), scope))
                .flatten()
        })
    }

    /// The uuid of a cloud (by database id) that was in the catalog when the index was built.
    pub fn cloud_uuid(&self, id: CloudId) -> Option<Uuid> {
        self.cloud_uuids.get(&id).copied()
    }

    /// The images the listing shows for this filter and caller, in order.
    pub fn matching(
        &self,
        filter: &ImageFilter,
        scope: &Scope,
        offerings: &[Option<OfferingScope>],
    ) -> Arc<Vec<u64>> {
        match self.rule(filter, scope, offerings) {
            Some((rule, cloud)) => self.matching_rule(&rule, cloud).1,
            None => Arc::new(Vec::new()),
        }
    }

    /// The answer to a rule in name order, and the key it is remembered under.
    fn matching_rule(&self, rule: &Rule, cloud: Option<CloudId>) -> (String, Arc<Vec<u64>>) {
        let key = format!("{rule:?}|{cloud:?}");
        let hits = cached(&self.hits, &key, || {
            let lists: Vec<(usize, Arc<Vec<u32>>)> = self
                .segments
                .iter()
                .enumerate()
                .filter(|(_, s)| cloud.is_none_or(|c| c == s.cloud))
                .map(|(i, s)| (i, s.matching(&key, rule, &self.tenant_clouds)))
                .filter(|(_, list)| !list.is_empty())
                .collect();
            self.merge(&lists)
        });
        (key, hits)
    }

    /// The images the listing shows for this filter and caller, in `order` (remembered like
    /// the answers in name order).
    pub fn ordered(
        &self,
        filter: &ImageFilter,
        scope: &Scope,
        offerings: &[Option<OfferingScope>],
        order: &ImageOrder,
    ) -> Arc<Vec<u64>> {
        let Some((rule, cloud)) = self.rule(filter, scope, offerings) else {
            return Arc::new(Vec::new());
        };
        let (key, by_name) = self.matching_rule(&rule, cloud);
        if order.is_default() {
            return by_name;
        }
        let key = format!("{key}|{order:?}");
        cached(&self.hits, &key, || {
            let mut hits = by_name.to_vec();
            // A stable sort of the list in (name, uuid) order: ties stay in that order.
            hits.sort_by(|&a, &b| {
                order
                    .0
                    .iter()
                    .map(|&(key, descending)| {
                        let o = self.compare(key, a, b);
                        if descending { o.reverse() } else { o }
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            hits
        })
    }

    /// Two hits compared by one key.
    fn compare(&self, key: SortKey, a: u64, b: u64) -> std::cmp::Ordering {
        let (sa, pa) = (&self.segments[(a >> 32) as usize], a as u32);
        let (sb, pb) = (&self.segments[(b >> 32) as usize], b as u32);
        match key {
            SortKey::Name => sa.sort_key(pa).cmp(&sb.sort_key(pb)),
            SortKey::Created => sa.created_at(pa).cmp(&sb.created_at(pb)),
            SortKey::MinDisk => sa.min_disk_of(pa).cmp(&sb.min_disk_of(pb)),
            SortKey::Size => sa.size_of(pa).cmp(&sb.size_of(pb)),
        }
    }

    /// The distinct names of the images the caller sees in these clouds (every cloud when
    /// `None`), in order: the rows of `usage_stats`.
    pub fn visible_names(&self, scope: &Scope, clouds: Option<&[CloudId]>) -> Arc<Vec<Box<str>>> {
        let rule = match scope {
            Scope::All => Rule::default(),
            Scope::Tenants(ids) if ids.is_empty() => return Arc::new(Vec::new()),
            Scope::Tenants(ids) => Rule {
                visible: Some(ids.clone()),
                ..Rule::default()
            },
        };
        let key = format!("names|{rule:?}");
        cached(&self.names, &format!("{key}|{clouds:?}"), || {
            let mut names: Vec<&str> = Vec::new();
            for s in &self.segments {
                if clouds.is_some_and(|c| !c.contains(&s.cloud)) {
                    continue;
                }
                let numbers = s.names_matching(&key, &rule, &self.tenant_clouds);
                names.extend(numbers.iter().map(|&n| s.name(n)));
            }
            names.sort_unstable();
            names.dedup();
            names.into_iter().map(Box::from).collect()
        })
    }

    /// Merges the segments' ordered positions into one list ordered by (name, uuid).
    fn merge(&self, lists: &[(usize, Arc<Vec<u32>>)]) -> Vec<u64> {
        let hit = |segment: usize, position: u32| ((segment as u64) << 32) | u64::from(position);
        if let [(segment, list)] = lists {
            return list.iter().map(|&p| hit(*segment, p)).collect();
        }
        let total = lists.iter().map(|(_, l)| l.len()).sum();
        let mut out = Vec::with_capacity(total);
        let key = |i: usize, at: usize| {
            let (segment, list) = &lists[i];
            self.segments[*segment].sort_key(list[at])
        };
        let mut heap: BinaryHeap<Head> = (0..lists.len())
            .map(|i| Reverse((key(i, 0), i, 0)))
            .collect();
        while let Some(Reverse((_, i, at))) = heap.pop() {
            let (segment, list) = &lists[i];
            out.push(hit(*segment, list[at]));
            if at + 1 < list.len() {
                heap.push(Reverse((key(i, at + 1), i, at + 1)));
            }
        }
        out
    }

    /// The filter and caller in database ids, and the one cloud they restrict to, if any;
    /// `None` when nothing can match (an unknown uuid, two different clouds, ...).
    fn rule(
        &self,
        filter: &ImageFilter,
        scope: &Scope,
        offerings: &[Option<OfferingScope>],
    ) -> Option<(Rule, Option<CloudId>)> {
        let mut cloud: Option<CloudId> = None;
        let mut one_cloud = |id: CloudId| -> Option<()> {
            if cloud.is_some_and(|c| c != id) {
                return None;
            }
            cloud = Some(id);
            Some(())
        };
        for uuid in &filter.clouds {
            one_cloud(*self.cloud_ids.get(uuid)?)?;
        }
        let mut rule = Rule {
            needles: filter
                .name_contains
                .iter()
                .map(|n| n.to_lowercase())
                .collect(),
            exact: filter.name_exact.clone(),
            rescue: filter.is_rescue_image,
            detail: filter.detail.clone(),
            show_duplicate_names: filter.show_duplicate_names,
            ..Rule::default()
        };
        for uuid in &filter.tenants {
            rule.tenants.push(*self.tenant_ids.get(uuid)?);
        }
        for scope in offerings {
            match scope.as_ref()? {
                OfferingScope::Tenant(id) => rule.tenants.push(*id),
                OfferingScope::Cloud {
                    id,
                    has_tenants: true,
                } => rule.tenant_of_clouds.push(*id),
                OfferingScope::Cloud {
                    id,
                    has_tenants: false,
                } => one_cloud(*id)?,
            }
        }
        rule.visible = match scope {
            Scope::All => None,
            Scope::Tenants(ids) if ids.is_empty() => return None,
            Scope::Tenants(ids) => Some(ids.clone()),
        };
        Some((rule, cloud))
    }
}
