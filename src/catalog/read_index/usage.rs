//! One cloud's instance counts per (image name, tenant): what `usage_stats` adds up, kept
//! beside the image segment so a page of usage rows reads no database either, and so its
//! names and its counts come from one snapshot. Loaded apart from the images, on the cloud's
//! `usage_version` (servers change more often than images).
use std::collections::HashMap;

use entity::instances;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::super::usage::running_count;
use crate::catalog::{CloudId, TenantId};

/// Instances running an image now, and ever created from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub running: i64,
    pub created: i64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Self) {
        self.running += other.running;
        self.created += other.created;
    }
}

pub struct CloudUsage {
    pub cloud: CloudId,
    pub version: i64,
    by_name: HashMap<Box<str>, Vec<(TenantId, Counts)>>,
}

impl CloudUsage {
    /// Reads the cloud's counts through `db` (the caller's consistent read).
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        cloud: CloudId,
        version: i64,
    ) -> Result<Self, DbErr> {
        let running = running_count();
        let rows: Vec<(String, TenantId, i64, i64)> = instances::Entity::find()
            .select_only()
            .column(instances::Column::ImageName)
            .column(instances::Column::TenantId)
            .expr(running)
            .expr(Expr::cust("COUNT(*)"))
            .filter(instances::Column::CloudId.eq(cloud))
            .group_by(instances::Column::ImageName)
            .group_by(instances::Column::TenantId)
            .into_tuple()
            .all(db)
            .await?;
        let mut by_name: HashMap<Box<str>, Vec<(TenantId, Counts)>> = HashMap::new();
        for (name, tenant, running, created) in rows {
            by_name
                .entry(name.into_boxed_str())
                .or_default()
                .push((tenant, Counts { running, created }));
        }
        Ok(Self {
            cloud,
            version,
            by_name,
        })
    }

    /// The counts of instances of `name` in the tenants `visible` allows (all when `None`).
    pub fn counts(&self, name: &str, visible: Option<&[TenantId]>) -> Counts {
        let mut sum = Counts::default();
        for (tenant, counts) in self.by_name.get(name).into_iter().flatten() {
            if visible.is_none_or(|v| v.contains(tenant)) {
                sum += *counts;
            }
        }
        sum
    }
}
