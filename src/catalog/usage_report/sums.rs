//! A report's rows from the history in memory: the instances the query keeps, grouped and
//! ordered by their keys, each group's periods summed at once. Memory stays at one group's
//! periods, whatever the number of rows; times are summed as whole milliseconds, so a figure
//! does not depend on the order of the sums.
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::history::{CloudHistory, Life, Stage, Stretch, Terms};
use super::{Basis, GroupKey, ReportQuery, ReportRow, RowKeys};
use crate::catalog::offerings::OfferingScope;
use crate::catalog::paging::{PageNumber, PageRequest, Paged};
use crate::catalog::{CatalogError, CatalogResult, CloudId, TenantId};

/// Which instances a report counts: the caller's tenants and the query's filters, in
/// database ids (`None` for a uuid that names nothing, which keeps nothing).
#[derive(Debug, Default)]
pub(super) struct Selection {
    pub visible: Option<HashSet<TenantId>>,
    /// Lower-cased.
    pub name_contains: Vec<String>,
    pub name_exact: Vec<String>,
    pub clouds: Vec<Option<CloudId>>,
    pub tenants: Vec<Option<TenantId>>,
    pub offerings: Vec<Option<OfferingScope>>,
}

impl Selection {
    /// Whether the instance's tenant and cloud are kept.
    fn keeps(&self, cloud: CloudId, life: &Life) -> bool {
        let tenant = life.tenant;
        self.visible.as_ref().is_none_or(|v| v.contains(&tenant))
            && self.clouds.iter().all(|c| *c == Some(cloud))
            && self.tenants.iter().all(|t| *t == Some(tenant))
            && self.offerings.iter().all(|o| match o {
                None => false,
                Some(OfferingScope::Tenant(id)) => *id == tenant,
                Some(OfferingScope::Cloud { id, .. }) => *id == cloud,
            })
    }

    /// Whether time counted under this image name is kept.
    fn keeps_name(&self, name: &str) -> bool {
        self.name_exact.iter().all(|n| n == name)
            && (self.name_contains.is_empty() || {
                let name = name.to_lowercase();
                self.name_contains.iter().all(|n| name.contains(n.as_str()))
            })
    }
}

/// The piece number of a life without stretches: it counts for its instance's keys.
const OWN_KEYS: u32 = u32::MAX;

/// The pieces of a life (number, name, image id); a life without stretches counts for its
/// instance's keys.
fn pieces_of(life: &Life) -> impl Iterator<Item = (u32, &Arc<str>, Option<&Arc<str>>)> {
    let own = life
        .pieces
        .is_empty()
        .then_some((OWN_KEYS, &life.name, life.image_id.as_ref()));
    (0u32..)
        .zip(&life.pieces)
        .map(|(i, p)| (i, &p.name, p.image_id.as_ref()))
        .chain(own)
}

/// Tenants' and clouds' uuids and names, by id.
pub(super) type Labels<K> = HashMap<K, (Uuid, String)>;

/// A group's keys, borrowed; ordered as [`RowKeys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Keys<'a> {
    name: Option<&'a str>,
    image_id: Option<&'a str>,
    tenant: Option<(Uuid, &'a str)>,
    settings: Option<(Uuid, &'a str)>,
}

impl Keys<'_> {
    fn owned(&self) -> RowKeys {
        RowKeys {
            name: self.name.map(String::from),
            image_id: self.image_id.map(String::from),
            tenant: self.tenant.map(|(u, n)| (u, n.to_string())),
            settings: self.settings.map(|(u, n)| (u, n.to_string())),
        }
    }
}

/// One group's sums in one period.
#[derive(Clone, Copy, Debug, Default)]
struct Cell<'a> {
    created: i64,
    deleted: i64,
    running_at_end: i64,
    ms: i64,
    vcpu_ms: i128,
    ram_mib_ms: i128,
    disk_gib_ms: i128,
    /// The image name last counted for in the period (by the time it took effect): what a
    /// row grouped by image but not by name shows, the same however late it is asked for.
    last_name: Option<(i64, &'a str)>,
}

impl<'a> Cell<'a> {
    fn is_empty(&self) -> bool {
        self.created == 0 && self.deleted == 0 && self.running_at_end == 0 && self.ms == 0
    }

    fn named(&mut self, at: i64, name: &'a str) {
        if self.last_name.is_none_or(|held| held < (at, name)) {
            self.last_name = Some((at, name));
        }
    }
}

const MS_PER_HOUR: f64 = 3_600_000.0;

/// A report ready to be walked: the history it reads and how it picks and groups.
pub struct Report {
    pub(super) parts: Vec<Arc<CloudHistory>>,
    pub(super) tenants: Labels<TenantId>,
    pub(super) clouds: Labels<CloudId>,
    pub(super) query: ReportQuery,
    pub(super) selection: Selection,
    /// Nothing can match (a filter names what the caller must not see, an empty window).
    pub(super) empty: bool,
}

/// Runs CPU-bound work (a report walks every instance it counts) off the async threads.
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> CatalogResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CatalogError::Computation(e.to_string()))
}

impl Report {
    /// The number of rows, counted off the async threads.
    pub async fn count_rows(self: &Arc<Self>) -> CatalogResult<u64> {
        let report = self.clone();
        off_thread(move || report.count()).await
    }

    /// One page of rows (after counting them all), off the async threads.
    pub async fn page_of(self: &Arc<Self>, req: PageRequest) -> CatalogResult<Paged<ReportRow>> {
        let report = self.clone();
        off_thread(move || {
            let offset = match req.number {
                PageNumber::Last => req.resolve(report.count())?.offset(),
                PageNumber::Number(n) => (n - 1).saturating_mul(req.size),
            };
            let (total, items) = report.page(offset, req.size);
            Ok(Paged {
                items,
                page: req.resolve(total)?,
            })
        })
        .await?
    }

    /// The number of rows.
    pub fn count(&self) -> u64 {
        let Some(grouped) = self.grouped() else {
            return 0;
        };
        grouped.occupied().rows().sum()
    }

    /// The number of rows, and the `limit` rows from `offset` on. Rows are counted from which
    /// periods each group has activity in, reading the instances in the order memory holds
    /// them; sums are made only for the groups the page shows.
    pub fn page(&self, offset: u64, limit: u64) -> (u64, Vec<ReportRow>) {
        let Some(grouped) = self.grouped() else {
            return (0, Vec::new());
        };
        let occupied = grouped.occupied();
        let mut rows = Vec::new();
        let mut cells = vec![Cell::default(); grouped.periods.len()];
        let mut n = 0;
        for (g, in_group) in occupied.rows().enumerate() {
            if n + in_group > offset && n < offset.saturating_add(limit) {
                grouped.sum(g, &mut cells);
                for (cell, start) in cells.iter().zip(&grouped.starts) {
                    if cell.is_empty() {
                        continue;
                    }
                    if n >= offset && n - offset < limit {
                        rows.push(grouped.row(g, *start, cell));
                    }
                    n += 1;
                }
            } else {
                n += in_group;
            }
        }
        (n, rows)
    }

    /// Every row in order, until `f` breaks.
    pub fn for_each(&self, mut f: impl FnMut(ReportRow) -> ControlFlow<()>) {
        let Some(grouped) = self.grouped() else {
            return;
        };
        let mut cells = vec![Cell::default(); grouped.periods.len()];
        for g in 0..grouped.keys.len() {
            grouped.sum(g, &mut cells);
            for (cell, start) in cells.iter().zip(&grouped.starts) {
                if !cell.is_empty() && f(grouped.row(g, *start, cell)).is_break() {
                    return;
                }
            }
        }
    }

    /// The pieces of instances the report counts, grouped in the order of their keys, and
    /// the periods; `None` when nothing can match.
    fn grouped(&self) -> Option<Grouped<'_>> {
        if self.empty {
            return None;
        }
        let bounds = super::periods(&self.query);
        let has = |k: GroupKey| self.query.group_by.contains(&k);
        let (by_name, by_image) = (has(GroupKey::Name), has(GroupKey::Image));
        let (by_tenant, by_cloud) = (has(GroupKey::Tenant), has(GroupKey::Settings));
        let mut keys: Vec<Keys> = Vec::new();
        // Each group's keys as ids: the name's and image id's addresses, tenant, cloud.
        let mut ids: Vec<(usize, usize, TenantId, CloudId)> = Vec::new();
        let mut members: Vec<Member> = Vec::new();
        for part in &self.parts {
            // Within a part equal strings are one allocation: grouping by address and id
            // hashes no text. Parts' groups with equal keys are merged below.
            let mut number: HashMap<(usize, usize, TenantId), usize> = HashMap::new();
            for life in &part.lives {
                if !self.selection.keeps(part.cloud, life) {
                    continue;
                }
                for (piece, name, image_id) in pieces_of(life) {
                    if !self.selection.keeps_name(name) {
                        continue;
                    }
                    let address = |s: Option<&Arc<str>>| s.map_or(0, |s| s.as_ptr() as usize);
                    let id = (
                        if by_name { address(Some(name)) } else { 0 },
                        if by_image { address(image_id) } else { 0 },
                        if by_tenant { life.tenant } else { TenantId(0) },
                    );
                    let g = *number.entry(id).or_insert_with(|| {
                        let cloud = if by_cloud { part.cloud } else { CloudId(0) };
                        ids.push((id.0, id.1, id.2, cloud));
                        keys.push(Keys {
                            name: by_name.then_some(&**name),
                            image_id: by_image.then(|| image_id.map_or("", |i| &**i)),
                            tenant: by_tenant
                                .then(|| label(self.tenants.get(&life.tenant)))
                                .flatten(),
                            settings: by_cloud
                                .then(|| label(self.clouds.get(&part.cloud)))
                                .flatten(),
                        });
                        keys.len() - 1
                    });
                    members.push(Member {
                        life,
                        terms: &part.terms,
                        piece,
                        name,
                        g,
                    });
                }
            }
        }
        // Groups in key order; equal keys from several parts (a name in two clouds) are one.
        // Keys are ranked by their ids first (distinct names and tenants are few): sorting
        // the groups then compares numbers, not text.
        let names = Ranks::new(ids.iter().zip(&keys).map(|(i, k)| (i.0, k.name)));
        let images = Ranks::new(ids.iter().zip(&keys).map(|(i, k)| (i.1, k.image_id)));
        let tenants = Ranks::new(ids.iter().zip(&keys).map(|(i, k)| (i.2, k.tenant)));
        let clouds = Ranks::new(ids.iter().zip(&keys).map(|(i, k)| (i.3, k.settings)));
        let ranked: Vec<[u32; 4]> = ids
            .iter()
            .map(|i| {
                [
                    names.of(i.0),
                    images.of(i.1),
                    tenants.of(i.2),
                    clouds.of(i.3),
                ]
            })
            .collect();
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by_key(|&g| ranked[g]);
        let mut rank = vec![0; keys.len()];
        let mut sorted: Vec<Keys> = Vec::with_capacity(keys.len());
        let mut last: Option<[u32; 4]> = None;
        for g in order {
            if last != Some(ranked[g]) {
                sorted.push(keys[g]);
                last = Some(ranked[g]);
            }
            rank[g] = sorted.len() - 1;
        }
        // Each group's members, one after another (`bounds[g]..bounds[g + 1]`).
        let mut group_bounds = vec![0usize; sorted.len() + 1];
        for member in members.iter_mut() {
            member.g = rank[member.g];
            group_bounds[member.g + 1] += 1;
        }
        for g in 0..sorted.len() {
            group_bounds[g + 1] += group_bounds[g];
        }
        let mut next = group_bounds.clone();
        let mut in_groups = vec![0usize; members.len()];
        for (i, member) in members.iter().enumerate() {
            in_groups[next[member.g]] = i;
            next[member.g] += 1;
        }
        Some(Grouped {
            keys: sorted,
            name_shown: by_image && !by_name,
            group_bounds,
            in_groups,
            members,
            basis: self.query.basis,
            starts: bounds.iter().map(|(s, _)| *s).collect(),
            periods: bounds
                .iter()
                .map(|(s, e)| (s.timestamp_millis(), e.timestamp_millis()))
                .collect(),
        })
    }
}

/// A piece of an instance's life in its group.
struct Member<'a> {
    life: &'a Life,
    /// Its part's.
    terms: &'a [Terms],
    /// Which of the life's pieces, or [`OWN_KEYS`].
    piece: u32,
    name: &'a str,
    g: usize,
}

/// A report's pieces grouped: keys in order, each group's members, and every member in the
/// order memory holds the instances.
struct Grouped<'a> {
    keys: Vec<Keys<'a>>,
    /// Rows show the name the period last counted for (grouped by image, not by name).
    name_shown: bool,
    /// Group `g`'s members are `in_groups[group_bounds[g]..group_bounds[g + 1]]`, by their
    /// number in `members`.
    group_bounds: Vec<usize>,
    in_groups: Vec<usize>,
    members: Vec<Member<'a>>,
    basis: Basis,
    starts: Vec<DateTime<Utc>>,
    /// `(start, end)` in milliseconds since the epoch.
    periods: Vec<(i64, i64)>,
}

impl<'a> Grouped<'a> {
    /// Each group's periods with activity.
    fn occupied(&self) -> PeriodSets {
        let words = self.periods.len().div_ceil(64);
        let mut bits = vec![0u64; words * self.keys.len()];
        for m in &self.members {
            let set = &mut bits[m.g * words..(m.g + 1) * words];
            visit(&self.periods, self.basis, m, |p, _| {
                set[p / 64] |= 1 << (p % 64)
            });
        }
        PeriodSets { words, bits }
    }

    /// Group `g`'s sums per period, into `cells`.
    fn sum(&self, g: usize, cells: &mut [Cell<'a>]) {
        cells.fill(Cell::default());
        for &i in &self.in_groups[self.group_bounds[g]..self.group_bounds[g + 1]] {
            let m = &self.members[i];
            let name: &'a str = m.name;
            visit(&self.periods, self.basis, m, |p, c| {
                let cell = &mut cells[p];
                match c {
                    Contribution::Created(at) => {
                        cell.created += 1;
                        cell.named(at, name);
                    }
                    Contribution::Deleted(at) => {
                        cell.deleted += 1;
                        cell.named(at, name);
                    }
                    Contribution::RunningAtEnd => cell.running_at_end += 1,
                    Contribution::Counted { ms, from, terms } => {
                        cell.ms += ms;
                        cell.vcpu_ms += i128::from(ms) * i128::from(terms.vcpus);
                        cell.ram_mib_ms += i128::from(ms) * i128::from(terms.ram_mib);
                        cell.disk_gib_ms += i128::from(ms) * i128::from(terms.disk_gib);
                        cell.named(from, name);
                    }
                }
            });
        }
    }

    /// The row of group `g` in the period starting at `start`.
    fn row(&self, g: usize, start: DateTime<Utc>, cell: &Cell) -> ReportRow {
        let mut keys = self.keys[g];
        if self.name_shown {
            keys.name = cell.last_name.map(|(_, n)| n);
        }
        row(&keys, start, cell)
    }
}

/// Each group's set of period numbers, one after another.
struct PeriodSets {
    /// Per group.
    words: usize,
    bits: Vec<u64>,
}

impl PeriodSets {
    /// The number of periods in each group's set, in group order.
    fn rows(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits
            .chunks(self.words.max(1))
            .map(|set| set.iter().map(|w| u64::from(w.count_ones())).sum())
    }
}

/// Ranks of values by their order (equal values share one), looked up by an id that names
/// the value: an address, a database id. Ranking a few distinct values once spares comparing
/// text for every pair of groups.
struct Ranks<I> {
    ids: Vec<I>,
    ranks: Vec<u32>,
}

impl<I: Ord + Copy> Ranks<I> {
    fn new<V: Ord>(pairs: impl Iterator<Item = (I, V)>) -> Self {
        let mut pairs: Vec<(I, V)> = pairs.collect();
        pairs.sort_unstable_by_key(|p| p.0);
        pairs.dedup_by(|a, b| a.0 == b.0);
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_unstable_by(|&a, &b| pairs[a].1.cmp(&pairs[b].1));
        let mut ranks = vec![0u32; pairs.len()];
        let mut rank = 0u32;
        for (n, &at) in order.iter().enumerate() {
            if n > 0 && pairs[order[n - 1]].1 != pairs[at].1 {
                rank += 1;
            }
            ranks[at] = rank;
        }
        Self {
            ids: pairs.into_iter().map(|(id, _)| id).collect(),
            ranks,
        }
    }

    fn of(&self, id: I) -> u32 {
        self.ids.binary_search(&id).map_or(0, |at| self.ranks[at])
    }
}

/// What a piece of an instance's life adds to one period; each makes the period's row exist.
enum Contribution<'a> {
    /// Created then (milliseconds since the epoch).
    Created(i64),
    /// Ended then.
    Deleted(i64),
    /// Milliseconds (more than 0) of a stretch the basis counts: when it began, and what
    /// it is billed at.
    Counted {
        ms: i64,
        from: i64,
        terms: &'a Terms,
    },
    RunningAtEnd,
}

fn label(l: Option<&(Uuid, String)>) -> Option<(Uuid, &str)> {
    l.map(|(u, n)| (*u, n.as_str()))
}

impl Basis {
    /// Whether the basis counts a stretch in `stage` from `from`, of a life that first ran
    /// at `first_run`.
    fn counts(self, stage: Stage, from: i64, first_run: i64) -> bool {
        match (self, stage) {
            (Self::Active, stage) => stage == Stage::Active,
            (Self::Running, stage) => stage.runs(),
            (Self::Allocated, Stage::Active | Stage::Running | Stage::Held) => true,
            // An instance that failed to build holds nothing; one that ran before does.
            (Self::Allocated, Stage::Error) => first_run < from,
            (Self::Allocated, Stage::Out) => false,
        }
    }
}

/// Calls `f` with each period (by number) a member adds to, and what it adds: created where
/// its life began (when its first piece), deleted where it ended (when its last), the time
/// the basis counts per period from its stretches, and whether the basis counts it at a
/// period's end.
fn visit<'a>(
    periods: &[(i64, i64)],
    basis: Basis,
    m: &Member<'a>,
    mut f: impl FnMut(usize, Contribution<'a>),
) {
    let life: &'a Life = m.life;
    // The period holding `t`, by number.
    let period_of = |t: i64| {
        let i = periods.partition_point(|(_, end)| *end <= t);
        (i < periods.len() && periods[i].0 <= t).then_some(i)
    };
    // Only a creation or an end inside the window needs the piece it belongs to; stretches
    // are in time order.
    let holds = |s: Option<&Stretch>| s.is_none_or(|s| s.piece == m.piece);
    if let Some(created) = life.created()
        && let Some(p) = period_of(created)
        && holds(life.stretches.first())
    {
        f(p, Contribution::Created(created));
    }
    if let Some(ended) = life.end()
        && let Some(p) = period_of(ended)
        && holds(life.stretches.last())
    {
        f(p, Contribution::Deleted(ended));
    }
    let (Some(&(window_start, _)), Some(&(_, window_end))) = (periods.first(), periods.last())
    else {
        return;
    };
    for s in &life.stretches {
        if s.from >= window_end {
            break;
        }
        if s.to <= window_start || s.piece != m.piece {
            continue;
        }
        let terms: &'a Terms = &m.terms[s.terms as usize];
        if !basis.counts(terms.stage, s.from, life.first_run) {
            continue;
        }
        let to = Ord::min(s.to, window_end);
        // Only the periods the stretch overlaps, and the one holding its end.
        let first = periods.partition_point(|(_, end)| *end <= s.from);
        for (p, &(start, end)) in periods.iter().enumerate().skip(first) {
            if start > to {
                break;
            }
            let ms = Ord::min(to, end) - Ord::max(s.from, start);
            if ms > 0 {
                f(
                    p,
                    Contribution::Counted {
                        ms,
                        from: s.from,
                        terms,
                    },
                );
            }
            // Counted at the period's end: the stretch holds its last instant.
            if s.from < end && to >= end {
                f(p, Contribution::RunningAtEnd);
            }
        }
    }
}

fn row(keys: &Keys, period_start: DateTime<Utc>, c: &Cell) -> ReportRow {
    ReportRow {
        keys: keys.owned(),
        period_start,
        instances_created: c.created,
        instances_deleted: c.deleted,
        instances_running_at_end: c.running_at_end,
        instance_hours: c.ms as f64 / MS_PER_HOUR,
        vcpu_hours: c.vcpu_ms as f64 / MS_PER_HOUR,
        ram_gib_hours: c.ram_mib_ms as f64 / 1024.0 / MS_PER_HOUR,
        disk_gib_hours: c.disk_gib_ms as f64 / MS_PER_HOUR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_the_values_and_equal_values_share_one() {
        // Two ids for "b" (a name held in two clouds), ids given in no order, repeated.
        let ranks = Ranks::new(
            [
                (30, Some("b")),
                (10, Some("c")),
                (20, None),
                (40, Some("b")),
                (30, Some("b")),
            ]
            .into_iter(),
        );
        assert_eq!(
            [20, 30, 40, 10].map(|id| ranks.of(id)),
            [0, 1, 1, 2],
            "None first, then by text"
        );
    }
}
