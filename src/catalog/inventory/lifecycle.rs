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

use super::{Boundary, IntervalEdit, Stint};
use crate::catalog::{CloudId, DatedBy, TenantId};

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

/// Closes the open intervals of `instances` at `end`.
async fn close(
    txn: &DatabaseTransaction,
    instances: impl IntoIterator<Item = i64>,
    end: Boundary,
    seq: i64,
) -> Result<u64, DbErr> {
    let res = instance_intervals::Entity::update_many()
        .col_expr(instance_intervals::Column::EndedAt, end_at(end.at))
        .col_expr(
            instance_intervals::Column::EndedBy,
            Expr::val(end.by.as_str()),
        )
        .col_expr(instance_intervals::Column::UsageSeq, Expr::val(seq))
        .filter(instance_intervals::Column::InstanceId.is_in(instances))
        .filter(instance_intervals::Column::EndedAt.is_null())
        .exec(txn)
        .await?;
    Ok(res.rows_affected)
}

/// One instance's edits folded: the time its stored open interval closes (if it does), and
/// the new rows, closed where a later edit closed them.
fn fold(edits: &[IntervalEdit]) -> (Option<Boundary>, Vec<Stint>) {
    let mut close_stored = None;
    let mut added: Vec<Stint> = Vec::new();
    for edit in edits {
        match edit {
            IntervalEdit::Close(end) => match added.iter_mut().rev().find(|s| s.ended.is_none()) {
                Some(open) => {
                    open.ended = Some(Boundary {
                        at: Ord::max(end.at, open.started.at),
                        by: end.by,
                    })
                }
                None => close_stored = close_stored.or(Some(*end)),
            },
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
        if let Some(end) = close_stored {
            written += close(txn, [instance], end, seq).await?;
        }
        rows.extend(added.into_iter().map(|s| instance_intervals::ActiveModel {
            id: ActiveValue::NotSet,
            instance_id: Set(instance),
            tenant_id: Set(tenant),
            status: Set(s.status),
            started_at: Set(s.started.at),
            ended_at: Set(s.ended.map(|e| e.at)),
            vcpus: Set(s.vcpus),
            ram_mib: Set(s.ram_mib),
            disk_gib: Set(s.disk_gib),
            cloud_id: Set(cloud),
            usage_seq: Set(seq),
            image_backend_id: Set(s.image_backend_id),
            image_name: Set(s.image_name),
            started_by: Set(Some(s.started.by)),
            ended_by: Set(s.ended.map(|e| e.by)),
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
    let end = Boundary {
        at,
        by: DatedBy::Sync,
    };
    for chunk in vanished.chunks(CHUNK) {
        closed += close(txn, chunk.iter().copied(), end, seq).await?;
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(i64::from(h) * 3600, 0).unwrap()
    }

    fn at(h: u32) -> Boundary {
        Boundary {
            at: t(h),
            by: DatedBy::Updated,
        }
    }

    fn stint(status: &str, from: u32, to: Option<u32>) -> Stint {
        Stint {
            status: status.into(),
            started: at(from),
            ended: to.map(at),
            vcpus: None,
            ram_mib: None,
            disk_gib: None,
            image_backend_id: None,
            image_name: String::new(),
        }
    }

    #[test]
    fn closes_apply_to_the_last_open_added_row_else_the_stored_one() {
        let (stored, added) = fold(&[
            IntervalEdit::Close(at(5)),
            IntervalEdit::Add(stint("SHUTOFF", 5, None)),
            IntervalEdit::Close(at(8)),
        ]);
        assert_eq!(stored, Some(at(5)));
        assert_eq!(added, [stint("SHUTOFF", 5, Some(8))]);
        let (stored, added) = fold(&[
            IntervalEdit::Add(stint("ACTIVE", 1, Some(3))),
            IntervalEdit::Add(stint("SHUTOFF", 3, None)),
            IntervalEdit::Close(at(2)),
        ]);
        assert_eq!(stored, None);
        assert_eq!(
            added[1],
            stint("SHUTOFF", 3, Some(3)),
            "never before its start"
        );
    }
}
