//! Usage reports: per group (image name, image, tenant, cloud) and period, instance-hours and
//! size-hours from the instances' lifecycle intervals, and instances created, deleted and
//! counted at the period's end. Which statuses count is the report's [`Basis`].
mod history;
mod sums;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use entity::instance_intervals;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::images::ImageFilter;
use super::{Catalog, CatalogResult, Scope};
pub use history::History;
pub use sums::Report;
use sums::{Labels, Selection};

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

/// Which of an instance's time a report counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Basis {
    /// `ACTIVE` only.
    #[default]
    Active,
    /// The guest runs: `ACTIVE`, `VERIFY_RESIZE`, `RESIZE`, `REVERT_RESIZE`, `MIGRATING`,
    /// `REBOOT`, `HARD_REBOOT`, `PASSWORD`, `RESCUE`, `REBUILD`.
    Running,
    /// It holds a hypervisor's resources: running, plus `SHUTOFF`, `PAUSED`, `SUSPENDED`,
    /// `SHELVED`, and `ERROR` after it first ran; not `SHELVED_OFFLOADED`, not before it
    /// first ran.
    Allocated,
}

impl Basis {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "active" => Some(Self::Active),
            "running" => Some(Self::Running),
            "allocated" => Some(Self::Allocated),
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
    pub basis: Basis,
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

pub struct UsageReport<'a>(pub(in crate::catalog) &'a Catalog);

impl UsageReport<'_> {
    /// The report for this caller and query, ready to count, page or stream. Catches the
    /// history in memory up with the database first.
    pub async fn prepare(&self, scope: &Scope, q: &ReportQuery) -> CatalogResult<Report> {
        let resolved = self.0.images().resolve(scope, &q.filter).await?;
        let db = self.0.db();
        let parts = self.0.history.current(db).await?;
        let tenants = super::tenant_labels(db).await?;
        let clouds = super::cloud_labels(db).await?;
        fn id_of<K: Copy>(labels: &Labels<K>, uuid: &Uuid) -> Option<K> {
            labels
                .iter()
                .find_map(|(id, (u, _))| (u == uuid).then_some(*id))
        }
        let selection = Selection {
            visible: match scope {
                Scope::All => None,
                Scope::Tenants(ids) => Some(ids.iter().copied().collect()),
            },
            name_contains: q
                .filter
                .name_contains
                .iter()
                .map(|n| n.to_lowercase())
                .collect(),
            name_exact: q.filter.name_exact.clone(),
            clouds: q.filter.clouds.iter().map(|u| id_of(&clouds, u)).collect(),
            tenants: q
                .filter
                .tenants
                .iter()
                .map(|u| id_of(&tenants, u))
                .collect(),
            offerings: resolved.offerings.clone(),
        };
        Ok(Report {
            empty: resolved.out_of_scope || q.start >= q.end,
            parts,
            tenants,
            clouds,
            query: q.clone(),
            selection,
        })
    }

    /// Deletes the intervals that closed before `before`; open ones and later ones stay.
    pub async fn prune(&self, before: DateTime<Utc>) -> CatalogResult<u64> {
        let txn = super::db::begin_write(self.0.writer()).await?;
        let res = instance_intervals::Entity::delete_many()
            .filter(instance_intervals::Column::EndedAt.lt(before))
            .exec(&txn)
            .await?;
        if res.rows_affected > 0 {
            // Deleting leaves no stamp: a changed version makes every process's history
            // count its rows again, and read a cloud again whole where they differ.
            super::read_index::touch_usage_of_every_cloud(&txn).await?;
        }
        txn.commit().await?;
        Ok(res.rows_affected)
    }
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
            basis: Basis::Active,
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
