//! A sync's staging area: new or changed image records and new links of one tenant, written in
//! batches while the listing runs so the sync's memory does not grow with the catalog, and
//! moved into the catalog by the sync's final transaction. The API never reads it.
use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr, ExprTrait, Value};
use uuid::Uuid;

use super::inventory::{ImageRecord, UPDATED_IMAGE_COLUMNS, insert_links};
use super::{CloudId, TenantId};
use entity::images;

#[derive(sea_orm::DeriveIden, Clone, Copy)]
pub enum SyncStage {
    Table,
    TenantId,
    BackendId,
    Link,
    Upsert,
    Uuid,
    Name,
    MinDisk,
    MinRam,
    Status,
    Visibility,
    Size,
    Checksum,
    DiskFormat,
    ContainerFormat,
    BackendCreatedAt,
    BackendUpdatedAt,
    HwRescueDevice,
    HwRescueBus,
    Properties,
}

/// The record columns, in the same order as `IMAGE_COLUMNS`.
const RECORD_COLUMNS: [SyncStage; 15] = [
    SyncStage::Uuid,
    SyncStage::BackendId,
    SyncStage::Name,
    SyncStage::MinDisk,
    SyncStage::MinRam,
    SyncStage::Status,
    SyncStage::Visibility,
    SyncStage::Size,
    SyncStage::Checksum,
    SyncStage::DiskFormat,
    SyncStage::ContainerFormat,
    SyncStage::BackendCreatedAt,
    SyncStage::BackendUpdatedAt,
    SyncStage::HwRescueDevice,
    SyncStage::HwRescueBus,
];

const IMAGE_COLUMNS: [images::Column; 15] = [
    images::Column::Uuid,
    images::Column::BackendId,
    images::Column::Name,
    images::Column::MinDisk,
    images::Column::MinRam,
    images::Column::Status,
    images::Column::Visibility,
    images::Column::Size,
    images::Column::Checksum,
    images::Column::DiskFormat,
    images::Column::ContainerFormat,
    images::Column::BackendCreatedAt,
    images::Column::BackendUpdatedAt,
    images::Column::HwRescueDevice,
    images::Column::HwRescueBus,
];

/// Rows per insert: 20 bound values each, well under SQLite's limit.
const CHUNK: usize = 300;

/// Removes what an earlier, unfinished sync of the tenant left; writes only when there is some.
pub async fn clear<C: ConnectionTrait>(db: &C, tenant_id: TenantId) -> Result<(), DbErr> {
    let probe = Query::select()
        .expr(Expr::val(1))
        .from(SyncStage::Table)
        .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
        .limit(1)
        .to_owned();
    if db.query_one(&probe).await?.is_some() {
        let delete = Query::delete()
            .from_table(SyncStage::Table)
            .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
            .to_owned();
        db.execute(&delete).await?;
    }
    Ok(())
}

/// Stages new/changed records and new links (an id may be both).
pub async fn stage<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    upserts: &[ImageRecord],
    links: &[String],
) -> Result<(), DbErr> {
    let records: HashMap<&str, &ImageRecord> =
        upserts.iter().map(|r| (r.backend_id.as_str(), r)).collect();
    let linked: std::collections::HashSet<&str> = links.iter().map(String::as_str).collect();
    let mut ids: Vec<&str> = records.keys().copied().collect();
    ids.extend(linked.iter().filter(|id| !records.contains_key(*id)));
    for chunk in ids.chunks(CHUNK) {
        // `columns` replaces the list: give it once, whole.
        let mut columns = vec![SyncStage::TenantId, SyncStage::Link, SyncStage::Upsert];
        columns.extend(RECORD_COLUMNS);
        columns.push(SyncStage::Properties);
        let mut insert = Query::insert();
        insert.into_table(SyncStage::Table).columns(columns);
        for id in chunk {
            let record = records.get(id);
            let mut row: Vec<Value> = vec![
                tenant_id.into(),
                linked.contains(id).into(),
                record.is_some().into(),
            ];
            match record {
                Some(r) => row.extend([
                    Uuid::new_v4().into(),
                    r.backend_id.clone().into(),
                    r.name.clone().into(),
                    r.min_disk.into(),
                    r.min_ram.into(),
                    r.status.clone().into(),
                    r.visibility.as_str().into(),
                    r.size.into(),
                    r.checksum.clone().into(),
                    r.disk_format.clone().into(),
                    r.container_format.clone().into(),
                    r.backend_created_at.into(),
                    r.backend_updated_at.into(),
                    r.hw_rescue_device.clone().into(),
                    r.hw_rescue_bus.clone().into(),
                    r.properties.clone().into(),
                ]),
                None => {
                    row.push(Option::<Uuid>::None.into());
                    row.push(id.to_string().into());
                    // Typed NULLs: PostgreSQL refuses a text NULL for a bigint column.
                    let text = || Value::String(None);
                    let int = || Value::BigInt(None);
                    let time = || Option::<chrono::DateTime<chrono::Utc>>::None.into();
                    row.extend([
                        text(),
                        int(),
                        int(),
                        text(),
                        text(),
                        int(),
                        text(),
                        text(),
                        text(),
                        time(),
                        time(),
                        text(),
                        text(),
                    ]);
                    row.push(Option::<serde_json::Value>::None.into());
                }
            }
            insert
                .values(row.into_iter().map(Into::into))
                .map_err(|e| DbErr::Custom(format!("staging row: {e}")))?;
        }
        // Records and links may be staged in different batches: a link for an already staged
        // record marks that row (an id is listed once per sync, so nothing else conflicts).
        insert.on_conflict(
            OnConflict::columns([SyncStage::TenantId, SyncStage::BackendId])
                .value(
                    SyncStage::Link,
                    Expr::cust("sync_stage.link OR excluded.link"),
                )
                .to_owned(),
        );
        db.execute(&insert).await?;
    }
    Ok(())
}

/// Names of staged images by Glance id (for instances booted from images this sync adds).
pub async fn staged_names<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    backend_ids: &[String],
) -> Result<HashMap<String, String>, DbErr> {
    let mut out = HashMap::new();
    for chunk in backend_ids.chunks(1000) {
        let select = Query::select()
            .columns([SyncStage::BackendId, SyncStage::Name])
            .from(SyncStage::Table)
            .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
            .and_where(Expr::col(SyncStage::Upsert).eq(true))
            .and_where(Expr::col(SyncStage::BackendId).is_in(chunk.iter().cloned()))
            .to_owned();
        for row in db.query_all(&select).await? {
            let id: String = row.try_get("", "backend_id")?;
            let name: Option<String> = row.try_get("", "name")?;
            if let Some(name) = name {
                out.insert(id, name);
            }
        }
    }
    Ok(out)
}

/// Moves the staged records and links into the catalog and empties the stage. Runs inside
/// the sync's transaction. Returns (rows upserted, links added).
pub async fn apply<C: ConnectionTrait>(
    txn: &C,
    settings_id: CloudId,
    tenant_id: TenantId,
) -> Result<(u64, u64), DbErr> {
    let staged = Query::select()
        .columns(RECORD_COLUMNS)
        .expr(Expr::val(settings_id))
        .column(SyncStage::Properties)
        .from(SyncStage::Table)
        .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
        .and_where(Expr::col(SyncStage::Upsert).eq(true))
        .to_owned();
    let mut columns = IMAGE_COLUMNS.to_vec();
    columns.extend([images::Column::SettingsId, images::Column::Properties]);
    let upsert = Query::insert()
        .into_table(images::Entity)
        .columns(columns)
        .select_from(staged)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::columns([images::Column::SettingsId, images::Column::BackendId])
                .update_columns(UPDATED_IMAGE_COLUMNS)
                .to_owned(),
        )
        .to_owned();
    let upserted = txn.execute(&upsert).await?.rows_affected();

    let links = Query::select()
        .column((images::Entity, images::Column::Id))
        .expr(Expr::val(tenant_id))
        .from(SyncStage::Table)
        .inner_join(
            images::Entity,
            Expr::col((images::Entity, images::Column::BackendId))
                .equals((SyncStage::Table, SyncStage::BackendId))
                .and(Expr::col((images::Entity, images::Column::SettingsId)).eq(settings_id)),
        )
        .and_where(Expr::col((SyncStage::Table, SyncStage::TenantId)).eq(tenant_id))
        .and_where(Expr::col((SyncStage::Table, SyncStage::Link)).eq(true))
        .to_owned();
    let link = insert_links(links)?;
    let linked = txn.execute(&link).await?.rows_affected();

    let delete = Query::delete()
        .from_table(SyncStage::Table)
        .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
        .to_owned();
    txn.execute(&delete).await?;
    Ok((upserted, linked))
}
