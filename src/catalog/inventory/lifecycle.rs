//! Writing instances' lives: the interval edits a sync computed, and the end of the lives of
//! instances that vanished. Rows are only added, and an open one closed once.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{instance_intervals, instances};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveValue, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect, Set,
};
use tracing::instrument;

use super::{IntervalEdit, Stint};
use crate::catalog::{CloudId, TenantId};

/// Rows per statement, well under SQLite's bound-variable limit.
const CHUNK: usize = 400;

/// An interval's end at `at`, but never before its start.
fn end_at(at: DateTime<Utc>) -> SimpleExpr {
    Expr::case(
        Expr::col(instance_intervals::Column::StartedAt).gt(at),
        Expr::col(instance_intervals::Column::StartedAt),
    )
    .finally(Expr::val(at))
    .into()
}

/// Closes the open intervals of `instances` at `at`.
async fn close(
    txn: &DatabaseTransaction,
    instances: impl IntoIterator<Item = i64>,
    at: DateTime<Utc>,
    seq: i64,
) -> Result<u64, DbErr> {
    let res = instance_intervals::Entity::update_many()
        .col_expr(instance_intervals::Column::EndedAt, end_at(at))
        .col_expr(instance_intervals::Column::UsageSeq, Expr::val(seq))
        .filter(instance_intervals::Column::InstanceId.is_in(instances))
        .filter(instance_intervals::Column::EndedAt.is_null())
        .exec(txn)
        .await?;
    Ok(res.rows_affected)
}

/// One instance's edits folded: the time its stored open interval closes (if it does), and
/// the new rows, closed where a later edit closed them.
fn fold(edits: &[IntervalEdit]) -> (Option<DateTime<Utc>>, Vec<Stint>) {
    let mut close_stored = None;
    let mut added: Vec<Stint> = Vec::new();
    for edit in edits {
        match edit {
            IntervalEdit::Close(at) => {
                match added.iter_mut().rev().find(|s| s.ended_at.is_none()) {
                    Some(open) => open.ended_at = Some(Ord::max(*at, open.started_at)),
                    None => close_stored = close_stored.or(Some(*at)),
                }
            }
            IntervalEdit::Add(stint) => added.push(stint.clone()),
        }
    }
    (close_stored, added)
}

/// Writes the edits of the instances (by Nova id) of `cloud`, stamped `seq`; returns the rows
/// written.
#[instrument(level = "debug", skip_all, fields(instances = lives.len()))]
pub(super) async fn record(
    txn: &DatabaseTransaction,
    cloud: CloudId,
    tenant: TenantId,
    seq: i64,
    lives: &[(String, Vec<IntervalEdit>)],
) -> Result<u64, DbErr> {
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(lives.len());
    for chunk in lives.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = instances::Entity::find()
            .select_only()
            .column(instances::Column::Id)
            .column(instances::Column::BackendId)
            .filter(instances::Column::CloudId.eq(cloud))
            .filter(instances::Column::BackendId.is_in(chunk.iter().map(|(b, _)| b.as_str())))
            .into_tuple()
            .all(txn)
            .await?;
        ids.extend(rows.into_iter().map(|(id, backend)| (backend, id)));
    }
    let mut written = 0;
    let mut rows = Vec::new();
    for (backend_id, edits) in lives {
        let Some(&instance) = ids.get(backend_id) else {
            continue;
        };
        let (close_stored, added) = fold(edits);
        if let Some(at) = close_stored {
            written += close(txn, [instance], at, seq).await?;
        }
        rows.extend(added.into_iter().map(|s| instance_intervals::ActiveModel {
            id: ActiveValue::NotSet,
            instance_id: Set(instance),
            tenant_id: Set(tenant),
            status: Set(s.status),
            started_at: Set(s.started_at),
            ended_at: Set(s.ended_at),
            vcpus: Set(s.vcpus),
            ram_mib: Set(s.ram_mib),
            disk_gib: Set(s.disk_gib),
            cloud_id: Set(cloud),
            usage_seq: Set(seq),
        }));
    }
    written += rows.len() as u64;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        instance_intervals::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(written)
}

/// Ends the lives of instances the sync no longer sees, at the time it saw them gone.
pub(super) async fn end(
    txn: &DatabaseTransaction,
    vanished: &[i64],
    at: DateTime<Utc>,
    seq: i64,
) -> Result<u64, DbErr> {
    let mut closed = 0;
    for chunk in vanished.chunks(CHUNK) {
        closed += close(txn, chunk.iter().copied(), at, seq).await?;
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(i64::from(h) * 3600, 0).unwrap()
    }

    fn stint(status: &str, from: u32, to: Option<u32>) -> Stint {
        Stint {
            status: status.into(),
            started_at: t(from),
            ended_at: to.map(t),
            vcpus: None,
            ram_mib: None,
            disk_gib: None,
        }
    }

    #[test]
    fn closes_apply_to_the_last_open_added_row_else_the_stored_one() {
        let (stored, added) = fold(&[
            IntervalEdit::Close(t(5)),
            IntervalEdit::Add(stint("SHUTOFF", 5, None)),
            IntervalEdit::Close(t(8)),
        ]);
        assert_eq!(stored, Some(t(5)));
        assert_eq!(added, [stint("SHUTOFF", 5, Some(8))]);
        let (stored, added) = fold(&[
            IntervalEdit::Add(stint("ACTIVE", 1, Some(3))),
            IntervalEdit::Add(stint("SHUTOFF", 3, None)),
            IntervalEdit::Close(t(2)),
        ]);
        assert_eq!(stored, None);
        assert_eq!(
            added[1],
            stint("SHUTOFF", 3, Some(3)),
            "never before its start"
        );
    }
}
