//! Glance's image quotas as each tenant last synced them (`/v2/info/usage`, kept raw on the
//! tenant): read into typed figures, one row per tenant and resource, to find the tenants
//! close to their limits. What Glance sent is untrusted: unknown resources and figures that are
//! not whole numbers are left out.
use chrono::{DateTime, Utc};
use entity::{service_settings, tenants};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use super::paging::{PageRequest, Paged};
use super::tenants::Tenants;
use super::{CatalogResult, Scope};

/// The resources Glance's unified-limits quota reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImageResource {
    SizeTotal,
    CountTotal,
    StageTotal,
    CountUploading,
}

impl ImageResource {
    pub const ALL: [Self; 4] = [
        Self::SizeTotal,
        Self::CountTotal,
        Self::StageTotal,
        Self::CountUploading,
    ];

    /// Glance's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SizeTotal => "image_size_total",
            Self::CountTotal => "image_count_total",
            Self::StageTotal => "image_stage_total",
            Self::CountUploading => "image_count_uploading",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// One resource's limit and usage (sizes in MiB, as Glance counts them). A negative limit
/// is Glance's "unlimited".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaFigure {
    pub limit: i64,
    pub usage: i64,
}

impl QuotaFigure {
    /// Usage as a percentage of the limit, to two decimals; `None` without a positive limit
    /// (unlimited, or nothing allowed).
    pub fn percent(self) -> Option<f64> {
        (self.limit > 0).then(|| (self.usage as f64 * 10_000.0 / self.limit as f64).round() / 100.0)
    }
}

/// The figures of a stored `/v2/info/usage` (the object under its `usage` key), in
/// [`ImageResource::ALL`]'s order.
pub fn figures(stored: &Value) -> Vec<(ImageResource, QuotaFigure)> {
    ImageResource::ALL
        .into_iter()
        .filter_map(|resource| {
            let entry = stored.get(resource.as_str())?;
            let limit = entry.get("limit")?.as_i64()?;
            let usage = entry.get("usage")?.as_i64()?;
            Some((resource, QuotaFigure { limit, usage }))
        })
        .collect()
}

/// One tenant's figure for one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaRow {
    pub tenant_uuid: Uuid,
    pub tenant_name: String,
    pub cloud_uuid: Uuid,
    pub resource: ImageResource,
    pub figure: QuotaFigure,
    /// When the tenant last synced (what the figures are as of).
    pub synced_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct QuotaFilter {
    pub cloud: Option<Uuid>,
    pub resource: Option<ImageResource>,
    /// Only rows at or above this percentage (rows without a percentage never pass).
    pub min_percent: Option<f64>,
}

impl QuotaFilter {
    fn passes(&self, row: &QuotaRow) -> bool {
        self.resource.is_none_or(|r| r == row.resource)
            && self
                .min_percent
                .is_none_or(|min| row.figure.percent().is_some_and(|p| p >= min))
    }
}

impl Tenants<'_> {
    /// The image quota rows of the live tenants in `scope` that pass `filter`: fullest first
    /// (rows without a percentage last), then by tenant name and resource. Read whole and
    /// sorted in memory: one row per tenant, a few fields each.
    pub async fn image_quotas(
        &self,
        scope: &Scope,
        filter: &QuotaFilter,
        page: PageRequest,
    ) -> CatalogResult<Paged<QuotaRow>> {
        let mut query = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Uuid)
            .column(tenants::Column::Name)
            .column(service_settings::Column::Uuid)
            .column(tenants::Column::ImageQuotaUsage)
            .column(tenants::Column::LastSuccessAt)
            .inner_join(service_settings::Entity)
            .filter(tenants::Column::Retired.is_null())
            .filter(tenants::Column::ImageQuotaUsage.is_not_null());
        if let Scope::Tenants(ids) = scope {
            query = query.filter(tenants::Column::Id.is_in(ids.iter().copied()));
        }
        if let Some(cloud) = filter.cloud {
            query = query.filter(service_settings::Column::Uuid.eq(cloud));
        }
        type Stored = (Uuid, String, Uuid, Option<Value>, Option<DateTime<Utc>>);
        let stored: Vec<Stored> = query.into_tuple().all(self.0.db()).await?;
        let mut rows: Vec<QuotaRow> = stored
            .into_iter()
            .flat_map(|(tenant_uuid, tenant_name, cloud_uuid, usage, synced_at)| {
                figures(&usage.unwrap_or_default())
                    .into_iter()
                    .map(move |(resource, figure)| QuotaRow {
                        tenant_uuid,
                        tenant_name: tenant_name.clone(),
                        cloud_uuid,
                        resource,
                        figure,
                        synced_at,
                    })
            })
            .filter(|row| filter.passes(row))
            .collect();
        rows.sort_by(|a, b| {
            let fullest = |r: &QuotaRow| std::cmp::Reverse(r.figure.percent().map(ordered));
            fullest(a)
                .cmp(&fullest(b))
                .then_with(|| a.tenant_name.cmp(&b.tenant_name))
                .then_with(|| a.tenant_uuid.cmp(&b.tenant_uuid))
                .then_with(|| a.resource.cmp(&b.resource))
        });
        let (page, items) = page.slice(&rows)?;
        Ok(Paged {
            items: items.to_vec(),
            page,
        })
    }
}

/// A percentage as a sortable integer (hundredths: the figures have two decimals).
fn ordered(percent: f64) -> i64 {
    (percent * 100.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_known_resources_with_whole_numbers() {
        let stored = serde_json::json!({
            "image_size_total": {"limit": 1000, "usage": 250},
            "image_count_total": {"limit": -1, "usage": 7},
            "image_stage_total": {"limit": "ten", "usage": 0},
            "image_count_uploading": {"usage": 1},
            "something_new": {"limit": 1, "usage": 1},
        });
        assert_eq!(
            figures(&stored),
            [
                (
                    ImageResource::SizeTotal,
                    QuotaFigure {
                        limit: 1000,
                        usage: 250
                    }
                ),
                (
                    ImageResource::CountTotal,
                    QuotaFigure {
                        limit: -1,
                        usage: 7
                    }
                ),
            ]
        );
        assert!(figures(&Value::Null).is_empty());
        assert!(figures(&serde_json::json!([1, 2])).is_empty());
    }

    #[test]
    fn percent_needs_a_positive_limit() {
        let p = |limit, usage| QuotaFigure { limit, usage }.percent();
        assert_eq!(p(1000, 250), Some(25.0));
        assert_eq!(p(3, 2), Some(66.67));
        assert_eq!(p(10, 12), Some(120.0));
        assert_eq!(p(-1, 7), None);
        assert_eq!(p(0, 0), None);
    }
}
