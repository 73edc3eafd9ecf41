//! A sync's staging area: new or changed image records and new links of one tenant, written in
//! batches while the listing runs so the sync's memory does not grow with the catalog, and
//! moved into the catalog by the sync's final transaction. The API never reads it.
//!
//! The staging table has the image's describing columns under the same names (plus its own
//! `tenant_id`, `link`, `member_status` (a link's) and `upsert`), so every statement here takes its column list from the
//! image entity; `staging_table_has_every_image_column` fails when a migration forgets one.
use std::collections::{HashMap, HashSet};

use entity::images;
use sea_orm::sea_query::{DynIden, Expr, IntoIden, OnConflict, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, ExprTrait, Value};
use uuid::Uuid;

use super::{ImageRecord, NewLink, image_columns, insert_links, status_value};
use crate::catalog::{CloudId, MemberStatus, TenantId};

/// The staging table's own columns.
#[derive(sea_orm::DeriveIden, Clone, Copy)]
enum SyncStage {
    Table,
    TenantId,
    Link,
    MemberStatus,
    Upsert,
}

/// Rows per insert: ~20 bound values each, well under SQLite's limit.
const CHUNK: usize = 300;

/// The image columns a staged record holds: its uuid-to-be, its Glance id, and what
/// describes it.
fn staged_columns() -> Vec<images::Column> {
    let mut columns = vec![images::Column::Uuid, images::Column::BackendId];
    columns.extend(image_columns());
    columns
}

fn iden(column: impl IntoIden) -> DynIden {
    column.into_iden()
}

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

/// Records and links may be staged in different batches: a link for an already staged record
/// marks that row, with its status (an id is listed once per sync, so nothing else conflicts).
fn merge_links() -> OnConflict {
    OnConflict::columns([iden(SyncStage::TenantId), iden(images::Column::BackendId)])
        .value(
            SyncStage::Link,
            Expr::cust("sync_stage.link OR excluded.link"),
        )
        .value(
            SyncStage::MemberStatus,
            Expr::cust("COALESCE(excluded.member_status, sync_stage.member_status)"),
        )
        .to_owned()
}

/// Stages new/changed records and new links (an id may be both).
pub async fn stage<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    upserts: &[ImageRecord],
    links: &[NewLink],
) -> Result<(), DbErr> {
    let linked: HashMap<&str, Option<MemberStatus>> =
        links.iter().map(|(id, s)| (id.as_str(), *s)).collect();
    for chunk in upserts.chunks(CHUNK) {
        stage_records(db, tenant_id, chunk, &linked).await?;
    }
    let recorded: HashSet<&str> = upserts.iter().map(|r| r.backend_id.as_str()).collect();
    let link_only: Vec<&NewLink> = links
        .iter()
        .filter(|(id, _)| !recorded.contains(id.as_str()))
        .collect();
    for chunk in link_only.chunks(CHUNK) {
        stage_links(db, tenant_id, chunk).await?;
    }
    Ok(())
}

/// One insert of records, each with its image columns (and its link, when it has one).
async fn stage_records<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    records: &[ImageRecord],
    linked: &HashMap<&str, Option<MemberStatus>>,
) -> Result<(), DbErr> {
    let columns = staged_columns();
    let mut names = vec![
        iden(SyncStage::TenantId),
        iden(SyncStage::Link),
        iden(SyncStage::MemberStatus),
        iden(SyncStage::Upsert),
    ];
    names.extend(columns.iter().map(|c| iden(*c)));
    let mut insert = Query::insert();
    insert.into_table(SyncStage::Table).columns(names);
    for record in records {
        let mut row = images::ActiveModel::from(record.clone());
        row.uuid = sea_orm::Set(Uuid::new_v4());
        let link = linked.get(record.backend_id.as_str());
        let mut values: Vec<Value> = vec![
            tenant_id.into(),
            link.is_some().into(),
            status_value(link.copied().flatten()),
            true.into(),
        ];
        for column in &columns {
            let value = row.get(*column).into_value();
            values.push(value.ok_or_else(|| DbErr::Custom(format!("{column:?} unset")))?);
        }
        insert
            .values(values.into_iter().map(Into::into))
            .map_err(|e| DbErr::Custom(format!("staging row: {e}")))?;
    }
    insert.on_conflict(merge_links());
    db.execute(&insert).await?;
    Ok(())
}

/// One insert of links to images this sync does not change.
async fn stage_links<C: ConnectionTrait>(
    db: &C,
    tenant_id: TenantId,
    links: &[&NewLink],
) -> Result<(), DbErr> {
    let mut insert = Query::insert();
    insert.into_table(SyncStage::Table).columns([
        iden(SyncStage::TenantId),
        iden(SyncStage::Link),
        iden(SyncStage::MemberStatus),
        iden(SyncStage::Upsert),
        iden(images::Column::BackendId),
    ]);
    for (id, status) in links {
        let values: [Value; 5] = [
            tenant_id.into(),
            true.into(),
            status_value(*status),
            false.into(),
            id.as_str().into(),
        ];
        insert
            .values(values.into_iter().map(Into::into))
            .map_err(|e| DbErr::Custom(format!("staging row: {e}")))?;
    }
    insert.on_conflict(merge_links());
    db.execute(&insert).await?;
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
            .columns([images::Column::BackendId, images::Column::Name])
            .from(SyncStage::Table)
            .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
            .and_where(Expr::col(SyncStage::Upsert).eq(true))
            .and_where(Expr::col(images::Column::BackendId).is_in(chunk.iter().cloned()))
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
    cloud: CloudId,
    tenant_id: TenantId,
) -> Result<(u64, u64), DbErr> {
    let upserted = txn
        .execute(&upsert_staged(cloud, tenant_id)?)
        .await?
        .rows_affected();
    let linked = txn
        .execute(&link_staged(cloud, tenant_id)?)
        .await?
        .rows_affected();
    let delete = Query::delete()
        .from_table(SyncStage::Table)
        .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
        .to_owned();
    txn.execute(&delete).await?;
    Ok((upserted, linked))
}

/// `INSERT INTO images (…) SELECT … FROM sync_stage … ON CONFLICT DO UPDATE` of the records.
fn upsert_staged(
    cloud: CloudId,
    tenant_id: TenantId,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    let columns = staged_columns();
    let staged = Query::select()
        .columns(columns.iter().copied())
        .expr(Expr::val(cloud))
        .from(SyncStage::Table)
        .and_where(Expr::col(SyncStage::TenantId).eq(tenant_id))
        .and_where(Expr::col(SyncStage::Upsert).eq(true))
        .to_owned();
    let mut targets = columns;
    targets.push(images::Column::CloudId);
    Ok(Query::insert()
        .into_table(images::Entity)
        .columns(targets)
        .select_from(staged)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::columns([images::Column::CloudId, images::Column::BackendId])
                .update_columns(image_columns())
                .to_owned(),
        )
        .to_owned())
}

/// The staged links, as (image id, tenant id, member status) looked up by Glance id.
fn link_staged(
    cloud: CloudId,
    tenant_id: TenantId,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    let links = Query::select()
        .column((images::Entity, images::Column::Id))
        .expr(Expr::val(tenant_id))
        .column((SyncStage::Table, SyncStage::MemberStatus))
        .from(SyncStage::Table)
        .inner_join(
            images::Entity,
            Expr::col((images::Entity, images::Column::BackendId))
                .equals((SyncStage::Table, images::Column::BackendId))
                .and(Expr::col((images::Entity, images::Column::CloudId)).eq(cloud)),
        )
        .and_where(Expr::col((SyncStage::Table, SyncStage::TenantId)).eq(tenant_id))
        .and_where(Expr::col((SyncStage::Table, SyncStage::Link)).eq(true))
        // In image id order, as `apply::link_images` inserts.
        .order_by((images::Entity, images::Column::Id), sea_orm::Order::Asc)
        .to_owned();
    insert_links(links)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    use super::*;
    use crate::catalog::clouds::NewCloud;
    use crate::catalog::inventory::{KnownImage, TenantChanges};
    use crate::catalog::tenants::NewTenant;
    use crate::catalog::{Catalog, ImageId, ImageVisibility};
    use crate::crypto::SecretBox;

    async fn catalog() -> Catalog {
        Catalog::open("sqlite::memory:", SecretBox::ephemeral(), false)
            .await
            .expect("catalog")
    }

    #[tokio::test]
    async fn staging_table_has_every_image_column() {
        let catalog = catalog().await;
        let rows = catalog
            .db()
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "SELECT name FROM pragma_table_info('sync_stage')",
            ))
            .await
            .expect("columns");
        let staged: HashSet<String> = rows
            .iter()
            .map(|r| r.try_get::<String>("", "name").expect("name"))
            .collect();
        for column in staged_columns() {
            let name = sea_orm::IdenStatic::as_str(&column);
            assert!(staged.contains(name), "sync_stage lacks images.{name}");
        }
    }

    /// A record with every column set, staged with its link and applied, is stored as given.
    #[tokio::test]
    async fn a_staged_record_is_stored_column_for_column() {
        let catalog = catalog().await;
        let cloud = catalog
            .clouds()
            .create(NewCloud::with_password(
                "c",
                "http://127.0.0.1:9/v3",
                "u",
                "p",
            ))
            .await
            .expect("cloud");
        let tenant = catalog
            .tenants()
            .create(NewTenant {
                name: "t".into(),
                backend_id: "p".into(),
                cloud: cloud.id,
                credentials: None,
            })
            .await
            .expect("tenant")
            .tenant;
        let at = |s| chrono::Utc.timestamp_opt(s, 0).single();
        let record = ImageRecord {
            id: ImageId(0),
            uuid: Uuid::nil(),
            cloud_id: CloudId(0),
            backend_id: "img-1".into(),
            name: "ubuntu".into(),
            min_disk: 2048,
            min_ram: 512,
            status: "active".into(),
            visibility: ImageVisibility::Shared,
            size: Some(123),
            checksum: Some("abc".into()),
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            backend_created_at: at(1_700_000_000),
            backend_updated_at: at(1_700_000_100),
            hw_rescue_device: "cdrom".into(),
            hw_rescue_bus: "ide".into(),
            properties: serde_json::json!({"os_distro": "ubuntu"}),
            owner: Some("p".into()),
            protected: true,
            os_hidden: false,
            tags: serde_json::json!(["golden"]),
            os_hash_algo: Some("sha512".into()),
            os_hash_value: Some("ff".into()),
            virtual_size: Some(456),
        };
        let inventory = catalog.inventory();
        inventory
            .stage(tenant.id, std::slice::from_ref(&record), &[])
            .await
            .expect("stage record");
        inventory
            .stage(
                tenant.id,
                &[],
                &[("img-1".to_string(), Some(MemberStatus::Pending))],
            )
            .await
            .expect("stage link");
        let mut changes = TenantChanges {
            staged: true,
            ..TenantChanges::default()
        };
        changes.seen_images.insert("img-1");
        let applied = inventory
            .apply(cloud.id, tenant.id, &changes, chrono::Utc::now())
            .await
            .expect("apply");
        assert_eq!(
            (applied.counts.images_upserted, applied.counts.images_linked),
            (1, 1)
        );
        let stored = images::Entity::find()
            .filter(images::Column::BackendId.eq("img-1"))
            .one(catalog.db())
            .await
            .expect("query")
            .expect("stored");
        assert_eq!(stored.cloud_id, cloud.id);
        assert!(!stored.uuid.is_nil());
        let link = entity::image_tenants::Entity::find()
            .one(catalog.db())
            .await
            .expect("query")
            .expect("linked");
        assert_eq!(link.member_status, Some(MemberStatus::Pending));
        let known = KnownImage {
            record: stored,
            linked: true,
            member_status: link.member_status,
        };
        assert!(!known.differs_from(&record));
    }
}
