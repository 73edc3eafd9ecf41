//! Applying one tenant's complete listing: one transaction, one function per phase, each a
//! `tracing` span (`RUST_LOG=cloudcensus::catalog=debug` shows their times).
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{image_tenants, images, instances, tenants};
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict, Query};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QuerySelect,
    Set,
};
use tracing::instrument;
use uuid::Uuid;

use super::{
    Applied, AppliedCounts, ImageRecord, InstanceRecord, NewLink, SeenIds, TenantChanges,
    TenantFacts, ViewMark, image_columns, insert_links, instance_columns, lifecycle, staging,
    status_value,
};
use crate::catalog::{CatalogResult, CloudId, ImageId, MemberStatus, TenantId, db, read_index};

/// Rows per multi-row statement: well under SQLite's bound-variable limit.
const CHUNK: usize = 400;
/// Glance ids per link statement (one JSON array, bound as one value).
const LINK_CHUNK: usize = 100_000;
/// Links read per slice when looking for what a tenant no longer sees.
const SCAN_SLICE: u64 = 10_000;

/// Applies a tenant's changes atomically: either all of them or none.
#[instrument(level = "debug", skip_all, fields(cloud = cloud.0, tenant = tenant.0))]
pub(super) async fn apply(
    db: &DatabaseConnection,
    cloud: CloudId,
    tenant: TenantId,
    changes: &TenantChanges,
    now: DateTime<Utc>,
) -> CatalogResult<Applied> {
    let txn = db::begin_write(db).await?;
    db::lock_cloud_writes(&txn, cloud).await?;
    let seq = read_index::next_usage_seq(&txn, cloud).await?;
    // Counted before anything is linked (see below); a partial listing unlinks nothing.
    let links_before = if changes.images_partial {
        None
    } else {
        Some(count_links(&txn, tenant).await?)
    };
    let mut counts = AppliedCounts {
        images_upserted: upsert_images(&txn, cloud, &changes.upsert_images).await?,
        ..AppliedCounts::default()
    };
    if changes.staged {
        let (upserted, linked) = staging::apply(&txn, cloud, tenant).await?;
        counts.images_upserted += upserted;
        counts.images_linked += linked;
    }
    counts.images_linked += link_images(&txn, cloud, tenant, &changes.link).await?;
    counts.memberships_changed = restatus(&txn, cloud, tenant, &changes.restatus).await?;
    // Each link the compare found is to a seen image: when they are all the links there were,
    // no link is to an image the tenant no longer sees.
    if links_before.is_some_and(|n| n != changes.already_linked) {
        let gone = links_not_seen(&txn, tenant, &changes.seen_images).await?;
        (counts.images_unlinked, counts.images_deleted) = unlink(&txn, tenant, &gone).await?;
    }
    counts.instances_upserted =
        upsert_instances(&txn, cloud, seq, &changes.upsert_instances).await?;
    counts.intervals_written =
        lifecycle::record(&txn, cloud, tenant, seq, &changes.lifecycle).await?;
    if !changes.servers_unlisted {
        let vanished = vanished_instances(&txn, tenant, &changes.seen_instances).await?;
        counts.instances_marked_deleted = mark_deleted(&txn, &vanished, now, seq).await?;
        counts.intervals_written += lifecycle::end(&txn, &vanished, now, seq).await?;
    }
    if let Some(facts) = &changes.facts {
        store_facts(&txn, tenant, facts).await?;
    }
    mark_view(&txn, cloud, tenant, changes, counts.images_upserted).await?;
    if let Some(cursor) = &changes.delta_cursor {
        tenants::Entity::update_many()
            .col_expr(tenants::Column::DeltaCursor, Expr::val(cursor.clone()))
            .filter(tenants::Column::Id.eq(tenant))
            .exec(&txn)
            .await?;
    }
    if counts.changes_listing() {
        read_index::touch(&txn, cloud).await?;
    }
    if counts.changes_usage() {
        read_index::touch_usage(&txn, cloud).await?;
    }
    let catalog_version = read_index::catalog_version(&txn, cloud).await?;
    commit(txn).await?;
    db::refresh_statistics(db, counts.rows_written()).await?;
    Ok(Applied {
        counts,
        catalog_version,
    })
}

#[instrument(level = "debug", skip_all)]
async fn commit(txn: DatabaseTransaction) -> Result<(), DbErr> {
    txn.commit().await
}

/// A record as a row to insert: a new uuid, in `cloud`, the database picks the id.
fn new_image_row(record: &ImageRecord, cloud: CloudId) -> images::ActiveModel {
    let mut row = images::ActiveModel::from(record.clone());
    row.id = ActiveValue::NotSet;
    row.uuid = Set(Uuid::new_v4());
    row.cloud_id = Set(cloud);
    row
}

/// `ON CONFLICT (cloud_id, backend_id) DO UPDATE` every describing column.
fn image_upsert() -> OnConflict {
    OnConflict::columns([images::Column::CloudId, images::Column::BackendId])
        .update_columns(image_columns())
        .to_owned()
}

/// New or changed records held in memory (the rest were staged).
#[instrument(level = "debug", skip_all, fields(rows = records.len()))]
async fn upsert_images(
    txn: &DatabaseTransaction,
    cloud: CloudId,
    records: &[ImageRecord],
) -> Result<u64, DbErr> {
    for chunk in records.chunks(CHUNK) {
        images::Entity::insert_many(chunk.iter().map(|r| new_image_row(r, cloud)))
            .on_conflict(image_upsert())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(records.len() as u64)
}

/// The links by membership status: each group is one constant in its statements.
fn by_status(links: &[NewLink]) -> BTreeMap<Option<MemberStatus>, Vec<&str>> {
    let mut groups: BTreeMap<Option<MemberStatus>, Vec<&str>> = BTreeMap::new();
    for (id, status) in links {
        groups.entry(*status).or_default().push(id);
    }
    groups
}

/// The cloud's images whose Glance ids are in `chunk`, bound as one JSON array and looked up
/// inside the database: `IN (SELECT …)` rather than a join, so SQLite looks each id up in the
/// images' unique index (joined, it chose to scan the cloud's images once per id).
fn images_listed(
    backend: DatabaseBackend,
    cloud: CloudId,
    chunk: &[&str],
) -> Result<sea_orm::sea_query::SelectStatement, DbErr> {
    let ids = serde_json::to_string(chunk).map_err(|e| DbErr::Custom(e.to_string()))?;
    // The ids as a table, one `value` each.
    let elements = match backend {
        DatabaseBackend::Postgres => {
            Func::cust("json_array_elements_text").arg(Expr::val(ids).cast_as("json"))
        }
        _ => Func::cust("json_each").arg(Expr::val(ids)),
    };
    let listed = Query::select()
        .column(Alias::new("value"))
        .from_function(elements, Alias::new("listed"))
        .to_owned();
    Ok(Query::select()
        .column(images::Column::Id)
        .from(images::Entity)
        .and_where(images::Column::CloudId.eq(cloud))
        .and_where(images::Column::BackendId.in_subquery(listed))
        .to_owned())
}

/// Links the tenant to images by Glance id, each with its membership's status. The ids go in
/// as one JSON array per statement (and status), are looked up inside the database, and the
/// links are inserted in image id order: the link indexes then grow page by page rather than
/// at random places. Against `IN` lists of 2000 ids in Glance's order, the `sync` bench's
/// first sync linked in 0.97 s rather than 1.81 s on SQLite, in 6.0 s rather than 10.9 s on
/// PostgreSQL.
#[instrument(level = "debug", skip_all, fields(ids = links.len()))]
async fn link_images(
    txn: &DatabaseTransaction,
    cloud: CloudId,
    tenant: TenantId,
    links: &[NewLink],
) -> Result<u64, DbErr> {
    let mut linked = 0;
    for (status, ids) in by_status(links) {
        for chunk in ids.chunks(LINK_CHUNK) {
            let mut select = images_listed(txn.get_database_backend(), cloud, chunk)?;
            select
                .expr(Expr::val(tenant))
                .expr(Expr::val(status_value(status)))
                .order_by(images::Column::Id, sea_orm::Order::Asc);
            linked += txn.execute(&insert_links(select)?).await?.rows_affected();
        }
    }
    Ok(linked)
}

/// Sets the status of the tenant's links whose membership changed.
#[instrument(level = "debug", skip_all, fields(links = changed.len()))]
async fn restatus(
    txn: &DatabaseTransaction,
    cloud: CloudId,
    tenant: TenantId,
    changed: &[NewLink],
) -> Result<u64, DbErr> {
    let mut updated = 0;
    for (status, ids) in by_status(changed) {
        for chunk in ids.chunks(LINK_CHUNK) {
            let images = images_listed(txn.get_database_backend(), cloud, chunk)?;
            updated += image_tenants::Entity::update_many()
                .col_expr(
                    image_tenants::Column::MemberStatus,
                    Expr::val(status_value(status)),
                )
                .filter(image_tenants::Column::TenantId.eq(tenant))
                .filter(image_tenants::Column::ImageId.in_subquery(images))
                .exec(txn)
                .await?
                .rows_affected;
        }
    }
    Ok(updated)
}

/// How many images the tenant is linked to.
async fn count_links(txn: &DatabaseTransaction, tenant: TenantId) -> Result<u64, DbErr> {
    image_tenants::Entity::find()
        .filter(image_tenants::Column::TenantId.eq(tenant))
        .count(txn)
        .await
}

/// The tenant's links whose Glance id was not listed: what it no longer sees. Read in slices
/// by image id, so memory holds only what is gone.
#[instrument(level = "debug", skip_all)]
async fn links_not_seen(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    seen: &SeenIds,
) -> Result<Vec<ImageId>, DbErr> {
    let link = |c: image_tenants::Column| Expr::col((image_tenants::Entity, c));
    let mut gone = Vec::new();
    let mut after = ImageId(0);
    loop {
        let slice = Query::select()
            .column((image_tenants::Entity, image_tenants::Column::ImageId))
            .column((images::Entity, images::Column::BackendId))
            .from(image_tenants::Entity)
            .inner_join(
                images::Entity,
                Expr::col((images::Entity, images::Column::Id))
                    .equals((image_tenants::Entity, image_tenants::Column::ImageId)),
            )
            .and_where(link(image_tenants::Column::TenantId).eq(tenant))
            .and_where(link(image_tenants::Column::ImageId).gt(after))
            .order_by(
                (image_tenants::Entity, image_tenants::Column::ImageId),
                sea_orm::Order::Asc,
            )
            .limit(SCAN_SLICE)
            .to_owned();
        let rows = txn.query_all(&slice).await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("", "image_id")?;
        for row in &rows {
            let backend_id: String = row.try_get("", "backend_id")?;
            if !seen.contains(&backend_id) {
                gone.push(row.try_get("", "image_id")?);
            }
        }
        if rows.len() < SCAN_SLICE as usize {
            break;
        }
    }
    Ok(gone)
}

/// Unlinks the tenant from `gone`; images no tenant sees any more leave the catalog.
/// Returns (links removed, images deleted).
#[instrument(level = "debug", skip_all, fields(gone = gone.len()))]
pub(in crate::catalog) async fn unlink(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    gone: &[ImageId],
) -> Result<(u64, u64), DbErr> {
    let (mut unlinked, mut deleted) = (0, 0);
    for chunk in gone.chunks(CHUNK) {
        let res = image_tenants::Entity::delete_many()
            .filter(image_tenants::Column::TenantId.eq(tenant))
            .filter(image_tenants::Column::ImageId.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
        unlinked += res.rows_affected;
        let still_linked = Query::select()
            .expr(Expr::val(1))
            .from(image_tenants::Entity)
            .and_where(
                Expr::col((image_tenants::Entity, image_tenants::Column::ImageId))
                    .equals((images::Entity, images::Column::Id)),
            )
            .to_owned();
        let res = images::Entity::delete_many()
            .filter(images::Column::Id.is_in(chunk.iter().copied()))
            .filter(Expr::exists(still_linked).not())
            .exec(txn)
            .await?;
        deleted += res.rows_affected;
    }
    Ok((unlinked, deleted))
}

/// New or changed servers (a changed tenant or a server back from the dead included).
#[instrument(level = "debug", skip_all, fields(rows = records.len()))]
async fn upsert_instances(
    txn: &DatabaseTransaction,
    cloud: CloudId,
    seq: i64,
    records: &[InstanceRecord],
) -> Result<u64, DbErr> {
    let row = |r: &InstanceRecord| {
        let mut row = instances::ActiveModel::from(r.clone());
        row.id = ActiveValue::NotSet;
        row.uuid = Set(Uuid::new_v4());
        row.cloud_id = Set(cloud);
        row.usage_seq = Set(seq);
        row
    };
    for chunk in records.chunks(CHUNK) {
        instances::Entity::insert_many(chunk.iter().map(row))
            .on_conflict(
                OnConflict::columns([instances::Column::CloudId, instances::Column::BackendId])
                    .update_columns(instance_columns().chain([instances::Column::UsageSeq]))
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(records.len() as u64)
}

/// The tenant's live instances the listing did not show. They are kept, marked deleted, so
/// "created" counts keep history.
#[instrument(level = "debug", skip_all)]
async fn vanished_instances(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    seen: &HashSet<String>,
) -> Result<Vec<i64>, DbErr> {
    let live: Vec<(i64, String)> = instances::Entity::find()
        .select_only()
        .column(instances::Column::Id)
        .column(instances::Column::BackendId)
        .filter(instances::Column::TenantId.eq(tenant))
        .filter(instances::Column::DeletedAt.is_null())
        .into_tuple()
        .all(txn)
        .await?;
    Ok(live
        .into_iter()
        .filter(|(_, b)| !seen.contains(b))
        .map(|(id, _)| id)
        .collect())
}

/// Marks vanished instances deleted as of `now`.
async fn mark_deleted(
    txn: &DatabaseTransaction,
    vanished: &[i64],
    now: DateTime<Utc>,
    seq: i64,
) -> Result<u64, DbErr> {
    let mut marked = 0;
    for chunk in vanished.chunks(CHUNK) {
        let res = instances::Entity::update_many()
            .col_expr(instances::Column::DeletedAt, Expr::val(now))
            .col_expr(instances::Column::UsageSeq, Expr::val(seq))
            .filter(instances::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
        marked += res.rows_affected;
    }
    Ok(marked)
}

/// Records or forgets fingerprints of views (see `ViewMark`): a tenant linked to an image
/// whose row changed from outside a whole-cloud view must compare its next view. Rows written
/// through the staging table are not known one by one: then every view of the cloud is
/// forgotten.
#[instrument(level = "debug", skip_all)]
async fn mark_view(
    txn: &DatabaseTransaction,
    cloud: CloudId,
    tenant: TenantId,
    changes: &TenantChanges,
    images_upserted: u64,
) -> Result<(), DbErr> {
    let set = |fingerprint: Option<&str>| {
        tenants::Entity::update_many()
            .col_expr(
                tenants::Column::ViewFingerprint,
                Expr::val(fingerprint.map(str::to_string)),
            )
            .filter(tenants::Column::ViewFingerprint.is_not_null())
    };
    match &changes.view {
        ViewMark::Set(fingerprint) => {
            tenants::Entity::update_many()
                .col_expr(
                    tenants::Column::ViewFingerprint,
                    Expr::val(fingerprint.as_str()),
                )
                .filter(tenants::Column::Id.eq(tenant))
                .exec(txn)
                .await?;
        }
        ViewMark::Forget => {
            set(None)
                .filter(tenants::Column::Id.eq(tenant))
                .exec(txn)
                .await?;
            if images_upserted == 0 {
                return Ok(());
            }
            if changes.staged {
                set(None)
                    .filter(tenants::Column::CloudId.eq(cloud))
                    .exec(txn)
                    .await?;
                return Ok(());
            }
            for chunk in changes.upsert_images.chunks(CHUNK) {
                let linked = Query::select()
                    .column((image_tenants::Entity, image_tenants::Column::TenantId))
                    .from(image_tenants::Entity)
                    .inner_join(
                        images::Entity,
                        Expr::col((images::Entity, images::Column::Id))
                            .equals((image_tenants::Entity, image_tenants::Column::ImageId)),
                    )
                    .and_where(Expr::col((images::Entity, images::Column::CloudId)).eq(cloud))
                    .and_where(
                        Expr::col((images::Entity, images::Column::BackendId))
                            .is_in(chunk.iter().map(|r| r.backend_id.clone())),
                    )
                    .to_owned();
                set(None)
                    .filter(tenants::Column::Id.in_subquery(linked))
                    .exec(txn)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn store_facts(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    facts: &TenantFacts,
) -> Result<(), DbErr> {
    tenants::Entity::update_many()
        .col_expr(
            tenants::Column::ImageQuotaUsage,
            Expr::val(facts.image_quota_usage.clone()),
        )
        .col_expr(tenants::Column::Stores, Expr::val(facts.stores.clone()))
        .col_expr(
            tenants::Column::ImportMethods,
            Expr::val(facts.import_methods.clone()),
        )
        .col_expr(
            tenants::Column::UnavailableServices,
            Expr::val(facts.unavailable_services.clone()),
        )
        .filter(tenants::Column::Id.eq(tenant))
        .exec(txn)
        .await?;
    Ok(())
}
