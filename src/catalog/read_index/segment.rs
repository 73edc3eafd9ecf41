//! One cloud's part of the listing index: the sort and filter keys of its images in listing
//! order, its tenants' position lists, and its own cache of answers. A segment is rebuilt only
//! when its cloud's `catalog_version` changes.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use entity::{image_tenants, images};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::cache::{Cache, cached};
use super::detail::{DetailRule, Dicts, Extra};
use crate::catalog::images::DetailFilter;
use crate::catalog::{CloudId, ImageId, MemberStatus, TenantId};

/// Rows read per query while loading.
const LOAD_CHUNK: u64 = 50_000;
/// Image ids whose links are read per query (one bound value each).
const LINK_LOOKUP: usize = 1000;

/// What a list shows of an image besides its sort keys, as loaded.
struct Shown {
    backend_id: String,
    min_disk: i64,
    min_ram: i64,
    rescue: (Box<str>, Box<str>),
}

/// One position as a list shows it (the creation time to the microsecond, as PostgreSQL
/// keeps it); the detail's strings are numbers in `dicts`.
pub struct Listed<'a> {
    pub uuid: Uuid,
    pub name: &'a str,
    pub backend_id: &'a str,
    pub min_disk: i64,
    pub min_ram: i64,
    pub created: Option<DateTime<Utc>>,
    pub rescue_device: &'a str,
    pub rescue_bus: &'a str,
    pub extra: &'a Extra,
    pub dicts: &'a Dicts,
    /// The registered tenants that see it.
    pub tenants: &'a [TenantId],
}

/// An image as loaded: its keys (the name numbered, the creation time in microseconds,
/// `i64::MIN` for none) and what a list shows.
struct Row {
    id: ImageId,
    uuid: Uuid,
    name: u32,
    created: i64,
    shown: Shown,
    extra: Extra,
}

/// A filter turned into this index's terms: database ids, lower-cased needles.
#[derive(Debug, Default)]
pub struct Rule {
    pub needles: Vec<String>,
    /// Every image must have each of these names.
    pub exact: Vec<String>,
    /// Every image must be linked to each of these tenants ...
    pub tenants: Vec<TenantId>,
    /// ... and to one tenant of each of these clouds ...
    pub tenant_of_clouds: Vec<CloudId>,
    /// ... and, for a scoped caller, to one of the caller's tenants.
    pub visible: Option<Vec<TenantId>>,
    pub rescue: Option<bool>,
    pub detail: DetailFilter,
    pub show_duplicate_names: bool,
}

pub struct Segment {
    pub cloud: CloudId,
    pub version: i64,
    ids: Vec<ImageId>,
    uuids: Vec<Uuid>,
    /// Number (into `names`) of each position's name; names are numbered in byte order.
    name_of: Vec<u32>,
    names: Vec<Box<str>>,
    names_lower: Vec<Box<str>>,
    /// First position of each name, plus the end.
    name_start: Vec<u32>,
    /// Microseconds since the epoch; `i64::MIN` for none (older than any date).
    created: Vec<i64>,
    rescue: Vec<bool>,
    /// What a list shows besides the keys, compactly: the Glance ids end to end (position
    /// `p`'s ends at `backend_id_end[p]`), and the few distinct (rescue device, bus) pairs
    /// by number (0 is a plain image). About 60 bytes an image.
    backend_ids: String,
    backend_id_end: Vec<u32>,
    min_disk: Vec<i64>,
    min_ram: Vec<i64>,
    rescue_pairs: Vec<(Box<str>, Box<str>)>,
    rescue_pair: Vec<u32>,
    /// The rest of each position's detail, and the cloud's numbered strings it refers to.
    extra: Vec<Extra>,
    dicts: Dicts,
    /// The tenants linked to position `p` are `link_tenants[link_start[p]..link_start[p + 1]]`.
    link_start: Vec<u32>,
    link_tenants: Vec<TenantId>,
    /// The links whose membership is not accepted (pending, rejected), by position: few,
    /// so a map rather than a status beside every link. Every other link counts as accepted
    /// (see `ImageDetail::memberships`).
    not_accepted: HashMap<u32, Vec<(TenantId, MemberStatus)>>,
    by_tenant: HashMap<TenantId, Vec<u32>>,
    /// Positions ordered by uuid (retrieving one image).
    by_uuid: Vec<u32>,
    cache: Mutex<Cache<u32>>,
}

impl Segment {
    /// Loads one cloud's images and links through `db` (the caller's consistent read).
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        cloud: CloudId,
        version: i64,
    ) -> Result<Self, DbErr> {
        let mut dicts = Dicts::default();
        let (mut rows, name_ids) = read_keys(db, cloud, &mut dicts).await?;
        let names = number_names(name_ids, &mut rows);
        // Listing order: by (name, uuid).
        let mut order: Vec<u32> = (0..rows.len() as u32).collect();
        order.sort_unstable_by_key(|&i| (rows[i as usize].name, rows[i as usize].uuid));
        let mut position_of = vec![0u32; rows.len()];
        for (p, &i) in order.iter().enumerate() {
            position_of[i as usize] = p as u32;
        }
        let ids_in_id_order: Vec<ImageId> = rows.iter().map(|r| r.id).collect();
        let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
        let in_order: Vec<Row> = order
            .iter()
            .filter_map(|&i| slots[i as usize].take())
            .collect();
        drop(slots);
        drop(order);
        let mut seg = Self::in_order(cloud, version, names, in_order, dicts);
        let links = read_links(db, &ids_in_id_order, &position_of).await?;
        seg.set_links(links);
        Ok(seg)
    }

    /// A segment of these images, given in listing order, without links yet.
    fn in_order(
        cloud: CloudId,
        version: i64,
        names: Vec<Box<str>>,
        rows: Vec<Row>,
        dicts: Dicts,
    ) -> Self {
        let n = rows.len();
        let mut seg = Segment {
            cloud,
            version,
            ids: Vec::with_capacity(n),
            uuids: Vec::with_capacity(n),
            name_of: Vec::with_capacity(n),
            names_lower: names.iter().map(|n| n.to_lowercase().into()).collect(),
            name_start: vec![0; names.len() + 1],
            names,
            created: Vec::with_capacity(n),
            rescue: Vec::with_capacity(n),
            backend_ids: String::new(),
            backend_id_end: Vec::with_capacity(n),
            min_disk: Vec::with_capacity(n),
            min_ram: Vec::with_capacity(n),
            rescue_pairs: vec![(Box::from(""), Box::from(""))],
            rescue_pair: Vec::with_capacity(n),
            extra: Vec::with_capacity(n),
            dicts,
            link_start: vec![0; n + 1],
            link_tenants: Vec::new(),
            not_accepted: HashMap::new(),
            by_tenant: HashMap::new(),
            by_uuid: Vec::new(),
            cache: Mutex::new(Cache::default()),
        };
        let mut pairs = HashMap::from([((Box::from(""), Box::from("")), 0)]);
        for row in rows {
            seg.ids.push(row.id);
            seg.uuids.push(row.uuid);
            seg.name_of.push(row.name);
            seg.created.push(row.created);
            seg.push_shown(row.shown, &mut pairs);
            seg.extra.push(row.extra);
            seg.name_start[row.name as usize + 1] += 1;
        }
        for i in 1..seg.name_start.len() {
            seg.name_start[i] += seg.name_start[i - 1];
        }
        seg.by_uuid = (0..n as u32).collect();
        seg.by_uuid.sort_unstable_by_key(|&p| seg.uuids[p as usize]);
        seg
    }

    /// The position of the image with this uuid, if the segment holds it.
    pub fn position_of(&self, uuid: &Uuid) -> Option<u32> {
        let i = self
            .by_uuid
            .binary_search_by_key(uuid, |&p| self.uuids[p as usize])
            .ok()?;
        Some(self.by_uuid[i])
    }

    /// Whether a caller who sees these tenants' images (every image when `None`) sees the
    /// image at `position`.
    pub fn visible_to(&self, position: u32, tenants: Option<&[TenantId]>) -> bool {
        tenants.is_none_or(|ids| self.links(position).iter().any(|t| ids.contains(t)))
    }

    /// Installs the (position, tenant, member status) links, sorted by position.
    fn set_links(&mut self, links: Vec<(u32, TenantId, Option<MemberStatus>)>) {
        for &(p, t, status) in &links {
            if let Some(status @ (MemberStatus::Pending | MemberStatus::Rejected)) = status {
                self.not_accepted.entry(p).or_default().push((t, status));
            }
        }
        let links: Vec<(u32, TenantId)> = links.into_iter().map(|(p, t, _)| (p, t)).collect();
        for &(p, _) in &links {
            self.link_start[p as usize + 1] += 1;
        }
        for i in 1..self.link_start.len() {
            self.link_start[i] += self.link_start[i - 1];
        }
        self.link_tenants = links.iter().map(|&(_, t)| t).collect();
        for &(p, t) in &links {
            self.by_tenant.entry(t).or_default().push(p);
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The listing's sort key of a position: name, then uuid.
    pub fn sort_key(&self, position: u32) -> (&str, &Uuid) {
        let p = position as usize;
        (&self.names[self.name_of[p] as usize], &self.uuids[p])
    }

    /// Appends a position's shown fields; `pairs` numbers the rescue pairs seen so far
    /// (upstream strings: a hash map, so many distinct ones cost no more than a few).
    fn push_shown(&mut self, shown: Shown, pairs: &mut HashMap<(Box<str>, Box<str>), u32>) {
        self.rescue.push(!shown.rescue.0.is_empty());
        let next = pairs.len() as u32;
        let pair = *pairs.entry(shown.rescue.clone()).or_insert_with(|| {
            self.rescue_pairs.push(shown.rescue);
            next
        });
        self.rescue_pair.push(pair);
        self.backend_ids.push_str(&shown.backend_id);
        self.backend_id_end.push(self.backends_len());
        self.min_disk.push(shown.min_disk);
        self.min_ram.push(shown.min_ram);
    }

    fn backends_len(&self) -> u32 {
        u32::try_from(self.backend_ids.len()).unwrap_or(u32::MAX)
    }

    /// A position as a list shows it.
    pub fn listed(&self, position: u32) -> Listed<'_> {
        let p = position as usize;
        let start = if p == 0 {
            0
        } else {
            self.backend_id_end[p - 1] as usize
        };
        let end = self.backend_id_end[p] as usize;
        let (device, bus) = &self.rescue_pairs[self.rescue_pair[p] as usize];
        let micros = self.created[p];
        Listed {
            uuid: self.uuids[p],
            name: &self.names[self.name_of[p] as usize],
            backend_id: self.backend_ids.get(start..end).unwrap_or_default(),
            min_disk: self.min_disk[p],
            min_ram: self.min_ram[p],
            created: (micros != i64::MIN)
                .then(|| DateTime::from_timestamp_micros(micros))
                .flatten(),
            rescue_device: device,
            rescue_bus: bus,
            extra: &self.extra[p],
            dicts: &self.dicts,
            tenants: self.links(position),
        }
    }

    /// Microseconds since the epoch; `i64::MIN` (the smallest) for none.
    pub fn created_at(&self, position: u32) -> i64 {
        self.created[position as usize]
    }

    pub fn min_disk_of(&self, position: u32) -> i64 {
        self.min_disk[position as usize]
    }

    /// `None` (the smallest) for an image of unknown size.
    pub fn size_of(&self, position: u32) -> Option<i64> {
        self.extra[position as usize].size
    }

    pub fn name(&self, number: u32) -> &str {
        &self.names[number as usize]
    }

    /// The statuses of these tenants' links to the image at `position`, each once, in
    /// order (a link without a stored status counting as accepted).
    pub fn member_statuses(&self, position: u32, tenants: &[TenantId]) -> Vec<MemberStatus> {
        let not_accepted = self.not_accepted.get(&position);
        let mut statuses: Vec<MemberStatus> = self
            .links(position)
            .iter()
            .filter(|t| tenants.contains(t))
            .map(|t| {
                not_accepted
                    .and_then(|n| n.iter().find(|(l, _)| l == t))
                    .map_or(MemberStatus::Accepted, |&(_, s)| s)
            })
            .collect();
        statuses.sort_unstable();
        statuses.dedup();
        statuses
    }

    fn links(&self, p: u32) -> &[TenantId] {
        let p = p as usize;
        &self.link_tenants[self.link_start[p] as usize..self.link_start[p + 1] as usize]
    }

    /// Positions this segment lists for the rule, in order; `key` names the rule for the cache.
    pub fn matching(
        &self,
        key: &str,
        rule: &Rule,
        tenant_clouds: &HashMap<TenantId, CloudId>,
    ) -> Arc<Vec<u32>> {
        cached(&self.cache, key, || self.compute(rule, tenant_clouds))
    }

    /// Numbers of the distinct names among the positions the rule lets through, in order.
    pub fn names_matching(
        &self,
        key: &str,
        rule: &Rule,
        tenant_clouds: &HashMap<TenantId, CloudId>,
    ) -> Arc<Vec<u32>> {
        let compute = || {
            let mut out: Vec<u32> = Vec::new();
            let Some(exact) = self.exact_name(rule) else {
                return out;
            };
            let Some(detail) = DetailRule::compile(&rule.detail, &self.dicts) else {
                return out;
            };
            self.visit(rule, exact, |p| {
                let name = self.name_of[p as usize];
                if out.last() != Some(&name) && self.passes(rule, &detail, tenant_clouds, p) {
                    out.push(name);
                }
            });
            out
        };
        cached(&self.cache, key, compute)
    }

    fn compute(&self, rule: &Rule, tenant_clouds: &HashMap<TenantId, CloudId>) -> Vec<u32> {
        let mut out = Vec::new();
        let Some(exact) = self.exact_name(rule) else {
            return out;
        };
        let Some(detail) = DetailRule::compile(&rule.detail, &self.dicts) else {
            return out;
        };
        // Within one cloud, a name's images are contiguous; keep the newest that passes.
        let mut best: Option<u32> = None;
        let mut memo: (u32, bool) = (u32::MAX, false);
        self.visit(rule, exact, |p| {
            let name = self.name_of[p as usize];
            if memo.0 != name {
                memo = (name, self.name_passes(rule, name));
            }
            if !memo.1 || !self.passes(rule, &detail, tenant_clouds, p) {
                return;
            }
            if rule.show_duplicate_names {
                out.push(p);
                return;
            }
            match best {
                Some(b) if self.name_of[b as usize] == name => {
                    if self.newer(p, b) {
                        best = Some(p);
                    }
                }
                Some(b) => {
                    out.push(b);
                    best = Some(p);
                }
                None => best = Some(p),
            }
        });
        out.extend(best);
        out
    }

    /// `None` when the exact names rule everything out; else the one name they require, if any.
    fn exact_name(&self, rule: &Rule) -> Option<Option<u32>> {
        let mut exact = None;
        for name in &rule.exact {
            let number = self
                .names
                .binary_search_by(|n| n.as_ref().cmp(name.as_str()))
                .ok()? as u32;
            if exact.is_some_and(|e| e != number) {
                return None;
            }
            exact = Some(number);
        }
        Some(exact)
    }

    /// Calls `f` with every position of the smallest candidate set, in order: one name's
    /// range, a tenant's list, the union of a scoped caller's tenants' lists, or all.
    fn visit(&self, rule: &Rule, exact: Option<u32>, f: impl FnMut(u32)) {
        const NONE: &[u32] = &[];
        let list_of = |t: &TenantId| self.by_tenant.get(t).map_or(NONE, |v| v.as_slice());
        let range = match exact {
            Some(name) => self.name_start[name as usize]..self.name_start[name as usize + 1],
            None => 0..self.ids.len() as u32,
        };
        let mut best: Option<&[u32]> = None;
        for list in rule.tenants.iter().map(list_of) {
            if best.is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        }
        let best_len = best.map_or(range.len(), |b| b.len().min(range.len()));
        if let Some(visible) = &rule.visible {
            let lists: Vec<&[u32]> = visible.iter().map(list_of).collect();
            if lists.iter().map(|l| l.len()).sum::<usize>() < best_len {
                let mut union: Vec<u32> = lists.concat();
                union.sort_unstable();
                union.dedup();
                union.into_iter().for_each(f);
                return;
            }
        }
        match best {
            Some(list) if list.len() < range.len() => list.iter().copied().for_each(f),
            _ => range.for_each(f),
        }
    }

    fn name_passes(&self, rule: &Rule, name: u32) -> bool {
        let lower = &self.names_lower[name as usize];
        rule.needles.iter().all(|n| lower.contains(n.as_str()))
    }

    fn passes(
        &self,
        rule: &Rule,
        detail: &DetailRule,
        tenant_clouds: &HashMap<TenantId, CloudId>,
        p: u32,
    ) -> bool {
        if rule.rescue.is_some_and(|r| r != self.rescue[p as usize]) {
            return false;
        }
        if !detail.passes(&self.extra[p as usize], self.created[p as usize]) {
            return false;
        }
        let links = self.links(p);
        if !rule.tenants.iter().all(|t| links.contains(t)) {
            return false;
        }
        if !rule
            .tenant_of_clouds
            .iter()
            .all(|s| links.iter().any(|t| tenant_clouds.get(t) == Some(s)))
        {
            return false;
        }
        match &rule.visible {
            Some(visible) => links.iter().any(|t| visible.contains(t)),
            None => true,
        }
    }

    /// Newest by creation time (none is oldest), then by the smaller database id: the rule the
    /// SQL listing applies.
    fn newer(&self, a: u32, b: u32) -> bool {
        let (a, b) = (a as usize, b as usize);
        (self.created[a], std::cmp::Reverse(self.ids[a]))
            > (self.created[b], std::cmp::Reverse(self.ids[b]))
    }
}

/// The cloud's images in id order, their names numbered in order of appearance and their
/// detail's strings in `dicts`.
async fn read_keys<C: ConnectionTrait>(
    db: &C,
    cloud: CloudId,
    dicts: &mut Dicts,
) -> Result<(Vec<Row>, HashMap<String, u32>), DbErr> {
    let mut name_ids: HashMap<String, u32> = HashMap::new();
    let mut out: Vec<Row> = Vec::new();
    let mut after = ImageId(i64::MIN);
    loop {
        let rows: Vec<images::Model> = images::Entity::find()
            .filter(images::Column::CloudId.eq(cloud))
            .filter(images::Column::Id.gt(after))
            .order_by_asc(images::Column::Id)
            .limit(LOAD_CHUNK)
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let full = rows.len() as u64 == LOAD_CHUNK;
        for row in rows {
            let extra = Extra::of(&row, dicts);
            let next = name_ids.len() as u32;
            let name = *name_ids.entry(row.name).or_insert(next);
            out.push(Row {
                id: row.id,
                uuid: row.uuid,
                name,
                created: row
                    .backend_created_at
                    .map_or(i64::MIN, |c| c.timestamp_micros()),
                shown: Shown {
                    backend_id: row.backend_id,
                    min_disk: row.min_disk,
                    min_ram: row.min_ram,
                    rescue: (row.hw_rescue_device.into(), row.hw_rescue_bus.into()),
                },
                extra,
            });
        }
        if !full {
            break;
        }
    }
    Ok((out, name_ids))
}

/// Numbers the names in byte order (renumbering the rows) and returns them in that order.
fn number_names(name_ids: HashMap<String, u32>, rows: &mut [Row]) -> Vec<Box<str>> {
    let mut names: Vec<(String, u32)> = name_ids.into_iter().collect();
    names.sort_unstable();
    let mut rank = vec![0u32; names.len()];
    for (r, (_, first_seen)) in names.iter().enumerate() {
        rank[*first_seen as usize] = r as u32;
    }
    for row in rows.iter_mut() {
        row.name = rank[row.name as usize];
    }
    names.into_iter().map(|(n, _)| n.into()).collect()
}

/// This cloud's links as (position, tenant, member status) sorted by position, looked up by
/// the cloud's image ids (a primary-key lookup each).
async fn read_links<C: ConnectionTrait>(
    db: &C,
    ids_in_id_order: &[ImageId],
    position_of: &[u32],
) -> Result<Vec<(u32, TenantId, Option<MemberStatus>)>, DbErr> {
    let mut links = Vec::new();
    for chunk in ids_in_id_order.chunks(LINK_LOOKUP) {
        let rows: Vec<(ImageId, TenantId, Option<MemberStatus>)> = image_tenants::Entity::find()
            .select_only()
            .column(image_tenants::Column::ImageId)
            .column(image_tenants::Column::TenantId)
            .column(image_tenants::Column::MemberStatus)
            .filter(image_tenants::Column::ImageId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (image_id, tenant_id, status) in rows {
            if let Ok(i) = ids_in_id_order.binary_search(&image_id) {
                links.push((position_of[i], tenant_id, status));
            }
        }
    }
    links.sort_unstable();
    Ok(links)
}
