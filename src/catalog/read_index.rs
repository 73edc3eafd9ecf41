//! An in-memory index of the image listing. The list's rules (order by name then uuid, the
//! newest image per (cloud, name) among those that pass the filters, an exact total) make SQL
//! visit every matching row on each request: seconds at a million images. The index holds the
//! listing's sort and filter keys in compact arrays, answers list and count requests in one
//! pass over the smallest candidate set (a tenant's, a cloud's, one name's or all images), and
//! remembers each answer until the catalog changes, so paging through a result costs one pass.
//! Rows are still read from the database, a page at a time.
//!
//! Freshness: every write to a cloud's images or links raises that cloud's `catalog_version`
//! (see [`touch`]). A request compares the versions (one small query) with those the index was
//! built from; if they differ the request is answered by SQL and the index is rebuilt in the
//! background, so answers never lag behind the database.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use entity::{image_tenants, images, service_settings, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    ExprTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::Visibility;
use super::images::ImageFilter;
use super::offerings::OfferingScope;

/// Rows read per query while building.
const LOAD_CHUNK: u64 = 50_000;
/// Cached answers are dropped when they hold more positions than this in total (4 bytes each).
const CACHE_POSITIONS: usize = 16 << 20;
const CACHE_ENTRIES: usize = 1024;

/// Marks a cloud's listing as changed. Call it in the transaction that changes the cloud's
/// images or links.
pub async fn touch<C: ConnectionTrait>(db: &C, settings_id: i32) -> Result<(), DbErr> {
    service_settings::Entity::update_many()
        .col_expr(
            service_settings::Column::CatalogVersion,
            Expr::col(service_settings::Column::CatalogVersion).add(1),
        )
        .filter(service_settings::Column::Id.eq(settings_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every cloud's id and catalog version, by id.
async fn versions<C: ConnectionTrait>(db: &C) -> Result<Vec<(i32, i64)>, DbErr> {
    service_settings::Entity::find()
        .select_only()
        .column(service_settings::Column::Id)
        .column(service_settings::Column::CatalogVersion)
        .order_by_asc(service_settings::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// The index of one process: the current snapshot, if any, and whether a rebuild runs.
pub struct ReadIndex {
    enabled: bool,
    current: RwLock<Option<Arc<Snapshot>>>,
    building: AtomicBool,
    served: AtomicU64,
}

impl ReadIndex {
    /// `enabled = false` answers every request with SQL.
    pub fn new(enabled: bool) -> Arc<Self> {
        Arc::new(Self {
            enabled,
            current: RwLock::new(None),
            building: AtomicBool::new(false),
            served: AtomicU64::new(0),
        })
    }

    /// The snapshot, if it matches the database now; otherwise starts a rebuild in the
    /// background (one at a time) and returns `None`.
    pub async fn fresh(
        self: &Arc<Self>,
        db: &DatabaseConnection,
    ) -> Result<Option<Arc<Snapshot>>, DbErr> {
        if !self.enabled {
            return Ok(None);
        }
        let now = versions(db).await?;
        if let Some(snapshot) = self.snapshot()
            && snapshot.versions == now
        {
            self.served.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(snapshot));
        }
        self.rebuild_in_background(db.clone());
        Ok(None)
    }

    /// Requests answered from the index so far (the rest went to SQL).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok().and_then(|s| s.clone())
    }

    /// Starts building the index in the background (when enabled and not already building).
    pub fn warm(self: &Arc<Self>, db: &DatabaseConnection) {
        if self.enabled {
            self.rebuild_in_background(db.clone());
        }
    }

    fn rebuild_in_background(self: &Arc<Self>, db: DatabaseConnection) {
        if self.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let index = self.clone();
        tokio::spawn(async move {
            if let Err(e) = index.rebuild(&db).await {
                tracing::warn!(error = %e, "listing index rebuild failed; SQL answers meanwhile");
            }
            index.building.store(false, Ordering::Release);
        });
    }

    /// Builds a snapshot of the database as it is now and installs it.
    pub async fn rebuild(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        if !self.enabled {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let snapshot = Snapshot::load(db).await?;
        // The unfiltered staff listing is the most common first request.
        snapshot.matching(&ImageFilter::default(), &Visibility::All, &[]);
        tracing::debug!(
            images = snapshot.ids.len(),
            ms = started.elapsed().as_millis() as u64,
            "listing index built"
        );
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(snapshot));
        }
        Ok(())
    }
}

/// The listing's keys for every image, in listing order (name, then uuid). A position is an
/// index into these arrays.
pub struct Snapshot {
    versions: Vec<(i32, i64)>,
    ids: Vec<i64>,
    /// Index into `names` of each position's name; names are numbered in sort order.
    name_of: Vec<u32>,
    names: Vec<Box<str>>,
    names_lower: Vec<Box<str>>,
    /// First position of each name, plus the end.
    name_start: Vec<u32>,
    settings: Vec<i32>,
    /// Microseconds since the epoch; `i64::MIN` for none (older than any date).
    created: Vec<i64>,
    rescue: Vec<bool>,
    /// The tenants linked to position `p` are `link_tenants[link_start[p]..link_start[p + 1]]`.
    link_start: Vec<u32>,
    link_tenants: Vec<i32>,
    by_tenant: HashMap<i32, Vec<u32>>,
    by_settings: HashMap<i32, Vec<u32>>,
    settings_ids: HashMap<Uuid, i32>,
    tenant_ids: HashMap<Uuid, i32>,
    tenant_settings: HashMap<i32, i32>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    answers: HashMap<String, Arc<Vec<u32>>>,
    positions: usize,
}

/// id, uuid, cloud, name, creation time, is a rescue image: what the listing needs of an image.
type ImageKeys = (i64, Uuid, i32, String, Option<DateTime<Utc>>, bool);

/// One image as loaded, before sorting.
struct Loaded {
    id: i64,
    uuid: Uuid,
    settings: i32,
    name: u32,
    created: i64,
    rescue: bool,
}

impl Snapshot {
    async fn load(db: &DatabaseConnection) -> Result<Self, DbErr> {
        // One consistent view of the database for the versions and every row read.
        let txn = match db.get_database_backend() {
            DbBackend::Postgres => {
                db.begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
            }
            _ => db.begin().await?,
        };
        let versions = versions(&txn).await?;
        let settings_ids: HashMap<Uuid, i32> = service_settings::Entity::find()
            .select_only()
            .column(service_settings::Column::Uuid)
            .column(service_settings::Column::Id)
            .into_tuple::<(Uuid, i32)>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let tenant_rows: Vec<(i32, Uuid, i32)> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::Uuid)
            .column(tenants::Column::SettingsId)
            .into_tuple()
            .all(&txn)
            .await?;

        // Images in id order, names interned.
        let mut name_ids: HashMap<String, u32> = HashMap::new();
        let mut loaded: Vec<Loaded> = Vec::new();
        let mut after = i64::MIN;
        loop {
            let rows: Vec<ImageKeys> = images::Entity::find()
                .select_only()
                .column(images::Column::Id)
                .column(images::Column::Uuid)
                .column(images::Column::SettingsId)
                .column(images::Column::Name)
                .column(images::Column::BackendCreatedAt)
                .expr(Expr::col(images::Column::HwRescueDevice).ne(""))
                .filter(images::Column::Id.gt(after))
                .order_by_asc(images::Column::Id)
                .limit(LOAD_CHUNK)
                .into_tuple()
                .all(&txn)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let full = rows.len() as u64 == LOAD_CHUNK;
            for (id, uuid, settings, name, created, rescue) in rows {
                let next = name_ids.len() as u32;
                let name = *name_ids.entry(name).or_insert(next);
                loaded.push(Loaded {
                    id,
                    uuid,
                    settings,
                    name,
                    created: created.map_or(i64::MIN, |c| c.timestamp_micros()),
                    rescue,
                });
            }
            if !full {
                break;
            }
        }

        // Number the names in byte order, then sort the images by (name, uuid).
        let mut names: Vec<(String, u32)> = name_ids.into_iter().collect();
        names.sort_unstable();
        let mut rank = vec![0u32; names.len()];
        for (r, (_, old)) in names.iter().enumerate() {
            rank[*old as usize] = r as u32;
        }
        let names: Vec<Box<str>> = names.into_iter().map(|(n, _)| n.into()).collect();
        let names_lower = names.iter().map(|n| n.to_lowercase().into()).collect();
        // `loaded` is in id order: remember each id's place there before sorting.
        let id_order: Vec<i64> = loaded.iter().map(|l| l.id).collect();
        for l in &mut loaded {
            l.name = rank[l.name as usize];
        }
        let mut order: Vec<u32> = (0..loaded.len() as u32).collect();
        order.sort_unstable_by_key(|&i| (loaded[i as usize].name, loaded[i as usize].uuid));
        let mut position_of_id_order = vec![0u32; loaded.len()];
        for (p, &i) in order.iter().enumerate() {
            position_of_id_order[i as usize] = p as u32;
        }
        let n = loaded.len();
        let mut snap = Snapshot {
            versions,
            ids: Vec::with_capacity(n),
            name_of: Vec::with_capacity(n),
            names,
            names_lower,
            name_start: Vec::new(),
            settings: Vec::with_capacity(n),
            created: Vec::with_capacity(n),
            rescue: Vec::with_capacity(n),
            link_start: Vec::new(),
            link_tenants: Vec::new(),
            by_tenant: HashMap::new(),
            by_settings: HashMap::new(),
            settings_ids,
            tenant_ids: tenant_rows
                .iter()
                .map(|(id, uuid, _)| (*uuid, *id))
                .collect(),
            tenant_settings: tenant_rows.iter().map(|(id, _, s)| (*id, *s)).collect(),
            cache: Mutex::new(Cache::default()),
        };
        for &i in &order {
            let l = &loaded[i as usize];
            snap.ids.push(l.id);
            snap.name_of.push(l.name);
            snap.settings.push(l.settings);
            snap.created.push(l.created);
            snap.rescue.push(l.rescue);
        }
        drop(loaded);
        drop(order);
        snap.name_start = vec![0; snap.names.len() + 1];
        for &name in &snap.name_of {
            snap.name_start[name as usize + 1] += 1;
        }
        for i in 1..snap.name_start.len() {
            snap.name_start[i] += snap.name_start[i - 1];
        }
        for (p, &s) in snap.settings.iter().enumerate() {
            snap.by_settings.entry(s).or_default().push(p as u32);
        }

        // Links, as (position, tenant) pairs sorted by position.
        let mut links: Vec<(u32, i32)> = Vec::new();
        let mut after: (i64, i32) = (i64::MIN, i32::MIN);
        loop {
            let rows: Vec<(i64, i32)> = image_tenants::Entity::find()
                .select_only()
                .column(image_tenants::Column::ImageId)
                .column(image_tenants::Column::TenantId)
                .filter(
                    image_tenants::Column::ImageId
                        .gt(after.0)
                        .or(image_tenants::Column::ImageId
                            .eq(after.0)
                            .and(image_tenants::Column::TenantId.gt(after.1))),
                )
                .order_by_asc(image_tenants::Column::ImageId)
                .order_by_asc(image_tenants::Column::TenantId)
                .limit(LOAD_CHUNK)
                .into_tuple()
                .all(&txn)
                .await?;
            let Some(last) = rows.last() else { break };
            after = *last;
            let full = rows.len() as u64 == LOAD_CHUNK;
            for (image_id, tenant_id) in rows {
                // A link to an image added after the image read cannot occur in one view;
                // skip rather than fail if it ever does.
                if let Ok(i) = id_order.binary_search(&image_id) {
                    links.push((position_of_id_order[i], tenant_id));
                }
            }
            if !full {
                break;
            }
        }
        txn.commit().await?;
        links.sort_unstable();
        snap.link_start = vec![0; n + 1];
        for &(p, _) in &links {
            snap.link_start[p as usize + 1] += 1;
        }
        for i in 1..snap.link_start.len() {
            snap.link_start[i] += snap.link_start[i - 1];
        }
        snap.link_tenants = links.iter().map(|&(_, t)| t).collect();
        for &(p, t) in &links {
            snap.by_tenant.entry(t).or_default().push(p);
        }
        Ok(snap)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The database id of the image at a position.
    pub fn image_id(&self, position: u32) -> i64 {
        self.ids[position as usize]
    }

    fn links(&self, p: u32) -> &[i32] {
        let p = p as usize;
        &self.link_tenants[self.link_start[p] as usize..self.link_start[p + 1] as usize]
    }

    /// Positions of the images that the listing shows for this filter and caller, in order.
    pub fn matching(
        &self,
        filter: &ImageFilter,
        visibility: &Visibility,
        offerings: &[Option<OfferingScope>],
    ) -> Arc<Vec<u32>> {
        self.cached(
            format!("images|{filter:?}|{visibility:?}|{offerings:?}"),
            || self.compute(filter, visibility, offerings),
        )
    }

    /// The distinct names (as numbers, in order) of the images the caller sees in these clouds
    /// (in every cloud when `None`): the rows of `usage_stats`.
    pub fn visible_names(&self, visibility: &Visibility, clouds: Option<&[i32]>) -> Arc<Vec<u32>> {
        self.cached(format!("names|{visibility:?}|{clouds:?}"), || {
            let filter = ImageFilter::default();
            let Some(rule) = Rule::new(self, &filter, visibility, &[]) else {
                return Vec::new();
            };
            let mut out: Vec<u32> = Vec::new();
            let mut visit = |p: u32| {
                let name = self.name_of[p as usize];
                if out.last() == Some(&name)
                    || clouds.is_some_and(|c| !c.contains(&self.settings[p as usize]))
                    || !rule.passes(self, p)
                {
                    return;
                }
                out.push(name);
            };
            match rule.candidates(self) {
                Candidates::Range(r) => r.for_each(&mut visit),
                Candidates::Slice(s) => s.iter().for_each(|&p| visit(p)),
                Candidates::Owned(v) => v.iter().for_each(|&p| visit(p)),
            }
            out
        })
    }

    /// The uuid of a cloud (by database id) that was in the catalog when the index was built.
    pub fn settings_uuid(&self, id: i32) -> Option<Uuid> {
        self.settings_ids
            .iter()
            .find_map(|(uuid, sid)| (*sid == id).then_some(*uuid))
    }

    /// The name with this number.
    pub fn name(&self, number: u32) -> &str {
        &self.names[number as usize]
    }

    fn cached(&self, key: String, compute: impl FnOnce() -> Vec<u32>) -> Arc<Vec<u32>> {
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.answers.get(&key)
        {
            return hit.clone();
        }
        let answer = Arc::new(compute());
        if let Ok(mut cache) = self.cache.lock() {
            if cache.answers.len() >= CACHE_ENTRIES
                || cache.positions + answer.len() > CACHE_POSITIONS
            {
                *cache = Cache::default();
            }
            cache.positions += answer.len();
            cache.answers.insert(key, answer.clone());
        }
        answer
    }

    fn compute(
        &self,
        filter: &ImageFilter,
        visibility: &Visibility,
        offerings: &[Option<OfferingScope>],
    ) -> Vec<u32> {
        let Some(rule) = Rule::new(self, filter, visibility, offerings) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut run: Vec<u32> = Vec::new();
        let mut run_name = u32::MAX;
        let mut memo: (u32, bool) = (u32::MAX, false);
        let mut visit = |p: u32, out: &mut Vec<u32>| {
            let name = self.name_of[p as usize];
            if memo.0 != name {
                memo = (name, rule.name_passes(self, name));
            }
            if !memo.1 || !rule.passes(self, p) {
                return;
            }
            if filter.show_duplicate_names {
                out.push(p);
                return;
            }
            if name != run_name {
                self.newest_of_run(&run, out);
                run.clear();
                run_name = name;
            }
            run.push(p);
        };
        match rule.candidates(self) {
            Candidates::Range(r) => r.for_each(|p| visit(p, &mut out)),
            Candidates::Slice(s) => s.iter().for_each(|&p| visit(p, &mut out)),
            Candidates::Owned(v) => v.iter().for_each(|&p| visit(p, &mut out)),
        }
        self.newest_of_run(&run, &mut out);
        out
    }

    /// Appends, in order, the positions of a run (one name, all passing the filters) that no
    /// newer image of the same cloud in the run displaces.
    fn newest_of_run(&self, run: &[u32], out: &mut Vec<u32>) {
        if run.len() <= 1 {
            out.extend_from_slice(run);
            return;
        }
        // Clouds per name are few: a short list beats a map.
        let mut best: Vec<(i32, u32)> = Vec::new();
        for &p in run {
            let s = self.settings[p as usize];
            match best.iter_mut().find(|(bs, _)| *bs == s) {
                Some((_, b)) if self.newer(p, *b) => *b = p,
                Some(_) => {}
                None => best.push((s, p)),
            }
        }
        out.extend(
            run.iter()
                .copied()
                .filter(|&p| best.iter().any(|&(_, b)| b == p)),
        );
    }

    /// Newest by creation time (none is oldest), then by the smaller database id: the rule the
    /// SQL listing applies.
    fn newer(&self, a: u32, b: u32) -> bool {
        let (a, b) = (a as usize, b as usize);
        (self.created[a], std::cmp::Reverse(self.ids[a]))
            > (self.created[b], std::cmp::Reverse(self.ids[b]))
    }
}

enum Candidates<'a> {
    Range(std::ops::Range<u32>),
    Slice(&'a [u32]),
    Owned(Vec<u32>),
}

impl Candidates<'_> {
    fn len(&self) -> usize {
        match self {
            Candidates::Range(r) => r.len(),
            Candidates::Slice(s) => s.len(),
            Candidates::Owned(v) => v.len(),
        }
    }
}

/// A filter and a caller's visibility, turned into database ids.
struct Rule<'f> {
    needles: Vec<String>,
    /// The one exact name every image must have (its number), if the filter names one.
    exact: Option<u32>,
    settings: Option<i32>,
    /// Every image must be linked to each of these tenants.
    tenants: Vec<i32>,
    /// ... and to one of the tenants of each of these clouds.
    tenant_of_settings: Vec<i32>,
    /// ... and to one of these (the caller's tenants), when the caller is scoped.
    visible: Option<&'f [i32]>,
    rescue: Option<bool>,
}

impl<'f> Rule<'f> {
    /// `None` when nothing can match (an unknown uuid, two different exact names, ...).
    fn new(
        snap: &Snapshot,
        filter: &ImageFilter,
        visibility: &'f Visibility,
        offerings: &[Option<OfferingScope>],
    ) -> Option<Self> {
        let mut exact = None;
        for name in &filter.name_exact {
            let number = snap
                .names
                .binary_search_by(|n| n.as_ref().cmp(name.as_str()))
                .ok()? as u32;
            if exact.is_some_and(|e| e != number) {
                return None;
            }
            exact = Some(number);
        }
        let mut settings = None;
        let mut one_settings = |id: i32| -> Option<()> {
            if settings.is_some_and(|s| s != id) {
                return None;
            }
            settings = Some(id);
            Some(())
        };
        for uuid in &filter.settings {
            one_settings(*snap.settings_ids.get(uuid)?)?;
        }
        let mut tenants = Vec::new();
        for uuid in &filter.tenants {
            tenants.push(*snap.tenant_ids.get(uuid)?);
        }
        let mut tenant_of_settings = Vec::new();
        for scope in offerings {
            match scope.as_ref()? {
                OfferingScope::Tenant(id) => tenants.push(*id),
                OfferingScope::Settings {
                    id,
                    has_tenants: true,
                } => tenant_of_settings.push(*id),
                OfferingScope::Settings {
                    id,
                    has_tenants: false,
                } => one_settings(*id)?,
            }
        }
        let visible = match visibility {
            Visibility::All => None,
            Visibility::Tenants(ids) if ids.is_empty() => return None,
            Visibility::Tenants(ids) => Some(ids.as_slice()),
        };
        Some(Self {
            needles: filter
                .name_contains
                .iter()
                .map(|n| n.to_lowercase())
                .collect(),
            exact,
            settings,
            tenants,
            tenant_of_settings,
            visible,
            rescue: filter.is_rescue_image,
        })
    }

    fn name_passes(&self, snap: &Snapshot, name: u32) -> bool {
        if self.exact.is_some_and(|e| e != name) {
            return false;
        }
        let lower = &snap.names_lower[name as usize];
        self.needles.iter().all(|n| lower.contains(n.as_str()))
    }

    fn passes(&self, snap: &Snapshot, p: u32) -> bool {
        let i = p as usize;
        if self.settings.is_some_and(|s| s != snap.settings[i]) {
            return false;
        }
        if self.rescue.is_some_and(|r| r != snap.rescue[i]) {
            return false;
        }
        let links = snap.links(p);
        if !self.tenants.iter().all(|t| links.contains(t)) {
            return false;
        }
        if !self
            .tenant_of_settings
            .iter()
            .all(|s| links.iter().any(|t| snap.tenant_settings.get(t) == Some(s)))
        {
            return false;
        }
        match self.visible {
            Some(visible) => links.iter().any(|t| visible.contains(t)),
            None => true,
        }
    }

    /// The smallest set of positions, in order, that holds every match.
    fn candidates<'s>(&self, snap: &'s Snapshot) -> Candidates<'s> {
        const NONE: &[u32] = &[];
        let all = snap.ids.len();
        let mut options = vec![Candidates::Range(0..all as u32)];
        if let Some(name) = self.exact {
            let (a, b) = (
                snap.name_start[name as usize],
                snap.name_start[name as usize + 1],
            );
            options.push(Candidates::Range(a..b));
        }
        if let Some(s) = self.settings {
            options.push(Candidates::Slice(
                snap.by_settings.get(&s).map_or(NONE, |v| v),
            ));
        }
        for t in &self.tenants {
            options.push(Candidates::Slice(snap.by_tenant.get(t).map_or(NONE, |v| v)));
        }
        if let Some(visible) = self.visible {
            let lists: Vec<&[u32]> = visible
                .iter()
                .map(|t| snap.by_tenant.get(t).map_or(NONE, |v| v.as_slice()))
                .collect();
            let smallest = options.iter().map(Candidates::len).min().unwrap_or(all);
            if lists.len() == 1 {
                options.push(Candidates::Slice(lists[0]));
            } else if lists.iter().map(|l| l.len()).sum::<usize>() < smallest {
                let mut merged: Vec<u32> = lists.concat();
                merged.sort_unstable();
                merged.dedup();
                options.push(Candidates::Owned(merged));
            }
        }
        options
            .into_iter()
            .min_by_key(Candidates::len)
            .unwrap_or(Candidates::Range(0..all as u32))
    }
}
