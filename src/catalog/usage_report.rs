//! Usage reports: per group (image name, image, tenant, cloud) and period, instance-hours and
//! size-hours from the instances' lifecycle intervals, and instances created, deleted and
//! running at the period's end. Time in `ACTIVE` is what counts as running.
use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use entity::{instance_intervals, instances, service_settings, tenants};
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, ExprTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::images::ImageFilter;
use super::offerings::OfferingScope;
use super::{Catalog, CatalogResult, CloudId, Scope, TenantId};
use crate::sync::lifecycle::ACTIVE;

/// What rows are grouped by; several combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    /// The image name the instance counts for.
    Name,
    /// The Glance image id (with its name).
    Image,
    Tenant,
    Settings,
}

impl GroupKey {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "name" => Some(Self::Name),
            "image" => Some(Self::Image),
            "tenant" => Some(Self::Tenant),
            "settings" => Some(Self::Settings),
            _ => None,
        }
    }
}

/// How a report's window is cut into rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Period {
    /// One row per group for the whole window.
    #[default]
    None,
    /// Calendar days, UTC.
    Day,
    /// Calendar months, UTC.
    Month,
}

impl Period {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "none" => Some(Self::None),
            "day" => Some(Self::Day),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// The start of the period after the one holding `t`.
    fn next(self, t: DateTime<Utc>, end: DateTime<Utc>) -> DateTime<Utc> {
        let date = t.date_naive();
        let next = match self {
            Self::None => return end,
            Self::Day => date.succ_opt(),
            Self::Month => {
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1)
            }
        };
        let next = next
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(end, |d| Utc.from_utc_datetime(&d));
        Ord::min(next, end)
    }
}

#[derive(Clone, Debug)]
pub struct ReportQuery {
    pub start: DateTime<Utc>,
    /// Exclusive; never after now (a report does not extend open intervals into the future).
    pub end: DateTime<Utc>,
    /// Sorted, without repeats, not empty.
    pub group_by: Vec<GroupKey>,
    pub period: Period,
    /// The image list's filters that apply to instances: names, clouds, tenants, offerings.
    pub filter: ImageFilter,
}

/// The keys of a row: only those grouped by are set.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKeys {
    pub name: Option<String>,
    pub image_id: Option<String>,
    pub tenant: Option<(Uuid, String)>,
    pub settings: Option<(Uuid, String)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportRow {
    pub keys: RowKeys,
    pub period_start: DateTime<Utc>,
    pub instances_created: i64,
    pub instances_deleted: i64,
    pub instances_running_at_end: i64,
    pub instance_hours: f64,
    pub vcpu_hours: f64,
    pub ram_gib_hours: f64,
    pub disk_gib_hours: f64,
}

impl ReportRow {
    fn is_empty(&self) -> bool {
        self.instances_created == 0
            && self.instances_deleted == 0
            && self.instances_running_at_end == 0
            && self.instance_hours == 0.0
    }
}

/// An instance as reports need it; times in milliseconds since the epoch.
struct Subject {
    keys: RowKeys,
    launched_at: Option<i64>,
    ended_at: Option<i64>,
}

/// An `ACTIVE` interval: instance id, start and end (milliseconds since the epoch), size.
type IntervalRow = (i64, i64, Option<i64>, Option<i32>, Option<i64>, Option<i64>);

pub struct UsageReport<'a>(pub(super) &'a Catalog);

impl UsageReport<'_> {
    /// The report's rows, ordered by their keys then period.
    pub async fn rows(&self, scope: &Scope, q: &ReportQuery) -> CatalogResult<Vec<ReportRow>> {
        let resolved = self.0.images().resolve(scope, &q.filter).await?;
        if resolved.out_of_scope || q.start >= q.end {
            return Ok(Vec::new());
        }
        let condition = instance_condition(scope, &q.filter, &resolved.offerings);
        let subjects = self.subjects(condition.clone(), &q.group_by).await?;
        let backend = self.0.db().get_database_backend();
        let millis = |c: &str| super::db::epoch_millis(backend, "instance_intervals", c);
        let intervals: Vec<IntervalRow> = instance_intervals::Entity::find()
            .select_only()
            .column(instance_intervals::Column::InstanceId)
            .expr(millis("started_at"))
            .expr(millis("ended_at"))
            .column(instance_intervals::Column::Vcpus)
            .column(instance_intervals::Column::RamMib)
            .column(instance_intervals::Column::DiskGib)
            .filter(instance_intervals::Column::Status.eq(ACTIVE))
            .filter(instance_intervals::Column::StartedAt.lt(q.end))
            .filter(
                Condition::any()
                    .add(instance_intervals::Column::EndedAt.is_null())
                    .add(instance_intervals::Column::EndedAt.gt(q.start)),
            )
            .filter(
                instance_intervals::Column::InstanceId.in_subquery(
                    Query::select()
                        .column(instances::Column::Id)
                        .from(instances::Entity)
                        .cond_where(condition)
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(self.0.db())
            .await?;
        Ok(aggregate(q, &subjects, &intervals))
    }

    /// Deletes the intervals that closed before `before`; open ones and later ones stay.
    pub async fn prune(&self, before: DateTime<Utc>) -> CatalogResult<u64> {
        let res = instance_intervals::Entity::delete_many()
            .filter(instance_intervals::Column::EndedAt.lt(before))
            .exec(self.0.writer())
            .await?;
        Ok(res.rows_affected)
    }

    /// The instances the report covers, with their group keys.
    async fn subjects(
        &self,
        condition: Condition,
        group_by: &[GroupKey],
    ) -> CatalogResult<HashMap<i64, Subject>> {
        type Row = (
            i64,
            TenantId,
            CloudId,
            Option<String>,
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let db = self.0.db();
        let millis = |c: &str| super::db::epoch_millis(db.get_database_backend(), "instances", c);
        let rows: Vec<Row> = instances::Entity::find()
            .select_only()
            .column(instances::Column::Id)
            .column(instances::Column::TenantId)
            .column(instances::Column::CloudId)
            .column(instances::Column::ImageBackendId)
            .column(instances::Column::ImageName)
            .expr(millis("launched_at"))
            .expr(millis("terminated_at"))
            .expr(millis("deleted_at"))
            .filter(condition)
            .into_tuple()
            .all(db)
            .await?;
        let tenant_names = super::tenant_labels(db).await?;
        let cloud_names = super::cloud_labels(db).await?;
        let has = |k: GroupKey| group_by.contains(&k);
        Ok(rows
            .into_iter()
            .map(
                |(id, tenant, cloud, image_id, name, launched, terminated, deleted)| {
                    let keys = RowKeys {
                        name: (has(GroupKey::Name) || has(GroupKey::Image)).then(|| name.clone()),
                        image_id: has(GroupKey::Image).then(|| image_id.unwrap_or_default()),
                        tenant: has(GroupKey::Tenant)
                            .then(|| tenant_names.get(&tenant).cloned())
                            .flatten(),
                        settings: has(GroupKey::Settings)
                            .then(|| cloud_names.get(&cloud).cloned())
                            .flatten(),
                    };
                    let subject = Subject {
                        keys,
                        launched_at: launched,
                        ended_at: terminated.or(deleted),
                    };
                    (id, subject)
                },
            )
            .collect())
    }
}

/// Instances the scope sees that pass the filter's name, cloud, tenant and offering terms.
fn instance_condition(
    scope: &Scope,
    filter: &ImageFilter,
    offerings: &[Option<OfferingScope>],
) -> Condition {
    let mut cond = Condition::all();
    if let Scope::Tenants(ids) = scope {
        cond = cond.add(instances::Column::TenantId.is_in(ids.iter().copied()));
    }
    for needle in &filter.name_contains {
        cond = cond.add(
            Expr::expr(Func::lower(Expr::col(instances::Column::ImageName)))
                .like(super::like_contains(needle)),
        );
    }
    for name in &filter.name_exact {
        cond = cond.add(instances::Column::ImageName.eq(name.as_str()));
    }
    for uuid in &filter.clouds {
        cond = cond.add(
            instances::Column::CloudId.in_subquery(
                Query::select()
                    .column(service_settings::Column::Id)
                    .from(service_settings::Entity)
                    .and_where(service_settings::Column::Uuid.eq(*uuid))
                    .to_owned(),
            ),
        );
    }
    for uuid in &filter.tenants {
        cond = cond.add(
            instances::Column::TenantId.in_subquery(
                Query::select()
                    .column(tenants::Column::Id)
                    .from(tenants::Entity)
                    .and_where(tenants::Column::Uuid.eq(*uuid))
                    .to_owned(),
            ),
        );
    }
    for offering in offerings {
        cond = cond.add(match offering {
            None => Expr::val(1).eq(0),
            Some(OfferingScope::Tenant(id)) => instances::Column::TenantId.eq(*id),
            Some(OfferingScope::Cloud { id, .. }) => instances::Column::CloudId.eq(*id),
        });
    }
    cond
}

/// The periods of the window: `(start, end)`, consecutive, covering it.
fn periods(q: &ReportQuery) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut at = q.start;
    while at < q.end {
        let next = q.period.next(at, q.end);
        out.push((at, next));
        at = next;
    }
    out
}

fn hours(millis: i64) -> f64 {
    millis as f64 / 3_600_000.0
}

fn aggregate(
    q: &ReportQuery,
    subjects: &HashMap<i64, Subject>,
    intervals: &[IntervalRow],
) -> Vec<ReportRow> {
    let bounds = periods(q);
    let periods: Vec<(i64, i64)> = bounds
        .iter()
        .map(|(s, e)| (s.timestamp_millis(), e.timestamp_millis()))
        .collect();
    let window_end = q.end.timestamp_millis();
    // Each subject's group once, by number: rows are summed under (group, period) numbers,
    // not under cloned keys.
    let mut group_of_keys: HashMap<&RowKeys, usize> = HashMap::new();
    let mut group_of: HashMap<i64, usize> = HashMap::with_capacity(subjects.len());
    for (id, subject) in subjects {
        let next = group_of_keys.len();
        group_of.insert(*id, *group_of_keys.entry(&subject.keys).or_insert(next));
    }
    let mut sums: HashMap<(usize, usize), ReportRow> = HashMap::new();
    // The period holding `t`, by number.
    let period_of = |t: i64| {
        let i = periods.partition_point(|(_, end)| *end <= t);
        (i < periods.len() && periods[i].0 <= t).then_some(i)
    };
    for (id, subject) in subjects {
        let group = group_of[id];
        if let Some(p) = subject.launched_at.and_then(period_of) {
            sums.entry((group, p)).or_default().instances_created += 1;
        }
        if let Some(p) = subject.ended_at.and_then(period_of) {
            sums.entry((group, p)).or_default().instances_deleted += 1;
        }
    }
    for &(instance, from, to, vcpus, ram_mib, disk_gib) in intervals {
        let Some(&group) = group_of.get(&instance) else {
            continue;
        };
        let to = Ord::min(to.unwrap_or(window_end), window_end);
        // Only the periods the interval overlaps, and the one holding its end.
        let first = periods.partition_point(|(_, end)| *end <= from);
        for (p, &(start, end)) in periods.iter().enumerate().skip(first) {
            if start > to {
                break;
            }
            let overlap = Ord::min(to, end) - Ord::max(from, start);
            let r = sums.entry((group, p)).or_default();
            if overlap > 0 {
                let h = hours(overlap);
                r.instance_hours += h;
                r.vcpu_hours += h * vcpus.map_or(0.0, f64::from);
                r.ram_gib_hours += h * ram_mib.map_or(0.0, |m| m as f64 / 1024.0);
                r.disk_gib_hours += h * disk_gib.map_or(0.0, |d| d as f64);
            }
            // Running at the period's end: the interval holds its last instant.
            if from < end && to >= end {
                r.instances_running_at_end += 1;
            }
        }
    }
    let keys: Vec<&RowKeys> = {
        let mut keys = vec![None; group_of_keys.len()];
        for (k, g) in group_of_keys {
            keys[g] = Some(k);
        }
        keys.into_iter().flatten().collect()
    };
    let mut rows: Vec<ReportRow> = sums
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|((group, p), r)| ReportRow {
            keys: keys[group].clone(),
            period_start: bounds[p].0,
            ..r
        })
        .collect();
    rows.sort_by(|a, b| (&a.keys, a.period_start).cmp(&(&b.keys, b.period_start)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn periods_cut_the_window_at_utc_days_and_months() {
        let q = |period| ReportQuery {
            start: t("2026-10-30T12:00:00Z"),
            end: t("2026-11-02T06:00:00Z"),
            group_by: vec![GroupKey::Name],
            period,
            filter: ImageFilter::default(),
        };
        let starts = |p| {
            periods(&q(p))
                .into_iter()
                .map(|(s, _)| s)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            starts(Period::Day),
            [
                t("2026-10-30T12:00:00Z"),
                t("2026-10-31T00:00:00Z"),
                t("2026-11-01T00:00:00Z"),
                t("2026-11-02T00:00:00Z")
            ]
        );
        assert_eq!(
            starts(Period::Month),
            [t("2026-10-30T12:00:00Z"), t("2026-11-01T00:00:00Z")]
        );
        assert_eq!(starts(Period::None), [t("2026-10-30T12:00:00Z")]);
        assert_eq!(
            periods(&q(Period::Day)).last().unwrap().1,
            t("2026-11-02T06:00:00Z")
        );
    }
}
