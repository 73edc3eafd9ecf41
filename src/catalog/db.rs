//! Connecting to the database (SQLite in WAL mode, or PostgreSQL) and migrating it.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Prepared statements kept per SQLite connection. A sync's multi-row inserts differ by row
/// count, and each prepared form of one holds thousands of placeholders: sqlx's default of 100
/// per connection kept ~100 MiB of them alive.
const STATEMENT_CACHE: usize = 24;

/// Connections of the pool that serves reads (the API, the listing index).
const READ_CONNECTIONS: u32 = 8;
/// Connections of the pool that writes (syncs, management writes). Syncs read through it too,
/// so they can never take a connection the API is waiting for; SQLite has one writer anyway.
const WRITE_CONNECTIONS: u32 = 4;

fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}

/// SQLite's page cache per write connection, in KiB. A sync's apply touches more pages than
/// the default 2 MiB holds: it spilled dirty pages into the WAL mid-transaction and read the
/// link indexes back from the file. The `sync` bench's first sync took 5.75 s with 16 MiB,
/// 6.25 s with the default, 5.56 s with 64 MiB (3 runs each); the price is at most
/// 16 MiB × `WRITE_CONNECTIONS` of memory. Read connections keep SQLite's default.
const WRITE_CACHE_KIB: u32 = 16 * 1024;

/// `cache_kib`: SQLite's page cache per connection; `None` keeps SQLite's default.
fn options(url: &str, max_connections: u32, cache_kib: Option<u32>) -> ConnectOptions {
    let mut opt = ConnectOptions::new(url.to_string());
    // Slow statements are mostly waits for SQLite's write lock or a cloud's advisory lock,
    // which syncs take in turn by design; sqlx would log each with its whole SQL at WARN.
    opt.sqlx_logging_level(log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Debug, Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        // In-memory databases are per connection: more than one would see different data.
        opt.max_connections(if is_in_memory(url) {
            1
        } else {
            max_connections
        });
        opt.map_sqlx_sqlite_opts(move |o| {
            // NORMAL in WAL mode: commits do not wait for fsync (a power cut may lose the
            // last commits, never consistency). The catalog is a copy that the next sync
            // restores, and a sync's many commits (staging batches) were bound by fsync.
            let o = o
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .statement_cache_capacity(STATEMENT_CACHE)
                .foreign_keys(true);
            match cache_kib {
                Some(kib) => o.pragma("cache_size", format!("-{kib}")),
                None => o,
            }
        });
    } else {
        // PostgreSQL readers and writers never wait for each other: twice the pools.
        opt.max_connections(max_connections * 2);
    }
    opt
}

/// The pools of a database.
pub struct Pools {
    pub reads: DatabaseConnection,
    pub writes: DatabaseConnection,
    /// The listing index's rebuilds (one connection).
    pub index: DatabaseConnection,
}

/// Brings the schema up to date on a connection of its own, closes it, then opens the pools.
/// Pool connections opened before a migration could keep the old schema: on SQLite an
/// `INSERT … RETURNING` right after adding a column returned no value for it now and then.
pub async fn open(url: &str) -> Result<Pools, DbErr> {
    if is_in_memory(url) {
        // One connection holds the whole database: migrate it, and share it.
        let db = Database::connect(options(url, 1, Some(WRITE_CACHE_KIB))).await?;
        Migrator::up(&db, None).await?;
        return Ok(Pools {
            reads: db.clone(),
            writes: db.clone(),
            index: db,
        });
    }
    let mut opt = options(url, 1, None);
    opt.max_connections(1).min_connections(0);
    let migrator = Database::connect(opt).await?;
    Migrator::up(&migrator, None).await?;
    migrator.close().await?;
    Ok(Pools {
        reads: Database::connect(options(url, READ_CONNECTIONS, None)).await?,
        writes: Database::connect(options(url, WRITE_CONNECTIONS, Some(WRITE_CACHE_KIB))).await?,
        index: Database::connect(options(url, 1, None)).await?,
    })
}

/// Starts a read-only transaction that sees one moment of the database throughout
/// (REPEATABLE READ on PostgreSQL; any SQLite read transaction in WAL mode does).
pub async fn begin_snapshot_read(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{AccessMode, DbBackend, IsolationLevel, TransactionTrait};
    match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
        }
        _ => db.begin().await,
    }
}

/// Starts a transaction that writes. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later fails with
/// "database is locked" when another writer commits in between, without waiting for the busy
/// timeout. PostgreSQL ignores the mode.
pub async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Namespace of cloudcensus's PostgreSQL advisory locks (two-key form: namespace, object).
const LOCK_NAMESPACE: i32 = 0x6363_7331;

/// Serializes the catalog writes of one cloud's syncs until the transaction ends. Tenants of
/// a cloud share images (public ones above all); concurrent upserts of the same rows in
/// different orders deadlock on PostgreSQL. SQLite already has a single writer.
pub async fn lock_cloud_writes(
    txn: &sea_orm::DatabaseTransaction,
    cloud: super::CloudId,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, $2)",
            [LOCK_NAMESPACE.into(), cloud.0.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Rows a sync must write before the planner's statistics are refreshed.
const ANALYZE_AFTER_ROWS: u64 = 1_000;

/// After a large write, refreshes PostgreSQL's statistics at once rather than at autovacuum's
/// next round: plans made while the catalog was empty (sequential scans probing a 400-value
/// `IN` list per row) otherwise stay in use and make the next sync's lookups take seconds.
pub async fn refresh_statistics(
    db: &sea_orm::DatabaseConnection,
    rows_written: u64,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend};
    if rows_written >= ANALYZE_AFTER_ROWS && db.get_database_backend() == DatabaseBackend::Postgres
    {
        db.execute_unprepared("ANALYZE images, image_tenants, instances")
            .await?;
    }
    Ok(())
}

/// SQL for a timestamp column as milliseconds since the epoch (NULL stays NULL). Reports read
/// hundreds of thousands of timestamps: an integer decodes far faster than a text timestamp
/// (SQLite stores them as text).
pub fn epoch_millis(
    backend: sea_orm::DatabaseBackend,
    table: &str,
    column: &str,
) -> sea_orm::sea_query::Expr {
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            format!("CAST(ROUND(EXTRACT(EPOCH FROM \"{table}\".\"{column}\") * 1000) AS BIGINT)")
        }
        _ => format!(
            "CAST(ROUND((julianday(\"{table}\".\"{column}\") - 2440587.5) * 86400000.0) AS INTEGER)"
        ),
    };
    sea_orm::sea_query::Expr::cust(sql)
}
