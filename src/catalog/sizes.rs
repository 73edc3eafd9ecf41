//! How big the catalog is, for `/metrics`: tenants by cloud and state, and rows per table.
use chrono::{DateTime, Utc};
use entity::{image_tenants, images, instance_intervals, instances, service_settings, tenants};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, ExprTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect,
    RelationTrait,
};

use super::{Catalog, CatalogResult, State};

/// What a tenant's state is counted as: its last sync's, or `RETIRED` once discovery
/// retired it (its project disabled or deleted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantState {
    Ok,
    Erred,
    Retired,
}

impl TenantState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Erred => "ERRED",
            Self::Retired => "RETIRED",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Sizes {
    /// Tenants per cloud name and state (only combinations that occur).
    pub tenants: Vec<(String, TenantState, u64)>,
    /// Rows per table: `images`, `image_links`, `instances`, `intervals`.
    pub rows: Vec<(&'static str, u64)>,
    /// Per cloud name, when one of its tenants last synced successfully (clouds none of
    /// whose tenants ever did are left out).
    pub last_success: Vec<(String, DateTime<Utc>)>,
}

impl Catalog {
    /// Counts tenants and table rows now. Exact counts: a scrape every few seconds of a
    /// catalog of a million images costs tens of milliseconds.
    pub async fn sizes(&self) -> CatalogResult<Sizes> {
        let db = self.db();
        let by_cloud = || {
            tenants::Entity::find()
                .select_only()
                .column(service_settings::Column::Name)
                .join(
                    JoinType::InnerJoin,
                    tenants::Relation::ServiceSettings.def(),
                )
                .group_by(service_settings::Column::Name)
        };
        let live: Vec<(String, State, i64)> = by_cloud()
            .column(tenants::Column::State)
            .column_as(
                Expr::col((tenants::Entity, tenants::Column::Id)).count(),
                "n",
            )
            .filter(tenants::Column::Retired.is_null())
            .group_by(tenants::Column::State)
            .into_tuple()
            .all(db)
            .await?;
        let retired: Vec<(String, i64)> = by_cloud()
            .column_as(
                Expr::col((tenants::Entity, tenants::Column::Id)).count(),
                "n",
            )
            .filter(tenants::Column::Retired.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        let live = live.into_iter().map(|(cloud, state, n)| {
            let state = match state {
                State::Ok => TenantState::Ok,
                State::Erred => TenantState::Erred,
            };
            (cloud, state, n)
        });
        let retired = retired
            .into_iter()
            .map(|(cloud, n)| (cloud, TenantState::Retired, n));
        let last_success: Vec<(String, Option<DateTime<Utc>>)> = by_cloud()
            .column_as(
                Expr::col((tenants::Entity, tenants::Column::LastSuccessAt)).max(),
                "last",
            )
            .into_tuple()
            .all(db)
            .await?;
        let last_success = last_success
            .into_iter()
            .filter_map(|(cloud, at)| Some((cloud, at?)))
            .collect();
        let tenants = live
            .chain(retired)
            .map(|(cloud, state, n)| (cloud, state, u64::try_from(n).unwrap_or(0)))
            .collect();
        let rows = vec![
            ("images", images::Entity::find().count(db).await?),
            (
                "image_links",
                image_tenants::Entity::find().count(db).await?,
            ),
            ("instances", instances::Entity::find().count(db).await?),
            (
                "intervals",
                instance_intervals::Entity::find().count(db).await?,
            ),
        ];
        Ok(Sizes {
            tenants,
            rows,
            last_success,
        })
    }

    /// How long ago the listing index's snapshot was built; `None` before the first (or
    /// when the index is off).
    pub fn read_index_age(&self) -> Option<std::time::Duration> {
        self.index.age()
    }
}
