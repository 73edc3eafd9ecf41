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
pub async fn open(url: &str) -> Result<Pools, OpenError> {
    let failed = |e| OpenError::new(url, e);
    if is_in_memory(url) {
        // One connection holds the whole database: migrate it, and share it.
        let db = Database::connect(options(url, 1, Some(WRITE_CACHE_KIB)))
            .await
            .map_err(failed)?;
        migrate(&db).await.map_err(failed)?;
        return Ok(Pools {
            reads: db.clone(),
            writes: db.clone(),
            index: db,
        });
    }
    let migrator = first_connection(url).await?;
    migrate(&migrator).await.map_err(failed)?;
    migrator.close().await.map_err(failed)?;
    let pool = |n, cache| async move {
        Database::connect(options(url, n, cache))
            .await
            .map_err(failed)
    };
    Ok(Pools {
        reads: pool(READ_CONNECTIONS, None).await?,
        writes: pool(WRITE_CONNECTIONS, Some(WRITE_CACHE_KIB)).await?,
        index: pool(1, None).await?,
    })
}

/// Attempts at the first connection to a database server, `CONNECT_PAUSE` apart: a server
/// started together with cloudcensus (a compose file, a reboot) may take a few seconds.
const CONNECT_ATTEMPTS: u32 = 5;
const CONNECT_PAUSE: Duration = Duration::from_secs(2);

/// The connection that migrates. Each failed attempt at a server is logged at once with its
/// reason, rather than waiting out a pool's timeout in silence; a SQLite file is tried once.
async fn first_connection(url: &str) -> Result<DatabaseConnection, OpenError> {
    let mut opt = options(url, 1, None);
    opt.max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    let attempts = if url.starts_with("sqlite:") {
        1
    } else {
        CONNECT_ATTEMPTS
    };
    let mut attempt = 1;
    loop {
        // sqlx retries a refused connection until its timeout and then only says "pool
        // timed out": reaching the server first gives the real reason, at once.
        let reached = match server_address(url) {
            Some(addr) => reach(&addr).await,
            None => Ok(()),
        };
        let result = match reached {
            Ok(()) => Database::connect(opt.clone())
                .await
                .map_err(|e| (OpenError::may_pass(&e), OpenError::new(url, e))),
            Err(cause) => Err((true, OpenError::unreachable(url, cause))),
        };
        match result {
            Ok(db) => return Ok(db),
            Err((true, e)) if attempt < attempts => {
                tracing::warn!(
                    database = %e.target,
                    attempt,
                    of = attempts,
                    error = %e.cause,
                    "cannot connect to the database yet; retrying in {}s",
                    CONNECT_PAUSE.as_secs()
                );
                tokio::time::sleep(CONNECT_PAUSE).await;
                attempt += 1;
            }
            Err((_, e)) => return Err(e),
        }
    }
}

/// The `host:port` of a database server's URL.
fn server_address(url: &str) -> Option<String> {
    let u = url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() != "sqlite")?;
    // A socket directory (`?host=/run/postgresql`) is not reached over TCP.
    if u.query_pairs().any(|(k, _)| k == "host") {
        return None;
    }
    Some(format!(
        "{}:{}",
        u.host_str().unwrap_or("localhost"),
        u.port().unwrap_or(5432)
    ))
}

/// Opens (and drops) a TCP connection to `addr`: the reason it cannot be reached, if any.
async fn reach(addr: &str) -> Result<(), String> {
    match tokio::time::timeout(CONNECT_PAUSE * 2, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer from {addr} within {}s",
            (CONNECT_PAUSE * 2).as_secs()
        )),
    }
}

/// Applies the migrations still pending, logging one line when there were any.
async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let pending = Migrator::get_pending_migrations(db).await?.len();
    Migrator::up(db, None).await?;
    if pending > 0 {
        tracing::info!(migrations = pending, "database schema brought up to date");
    }
    Ok(())
}

/// Where a database URL points, for people: the SQLite file, or the server and database
/// without the password.
pub fn describe(url: &str) -> String {
    if let Some(path) = sqlite_path(url) {
        return format!("SQLite file {path}");
    }
    match url::Url::parse(url) {
        Ok(u) => format!(
            "PostgreSQL database \"{}\" at {}:{} as user \"{}\"",
            u.path().trim_start_matches('/'),
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432),
            u.username()
        ),
        Err(_) => "the database of DATABASE_URL".to_string(),
    }
}

/// The file of a SQLite URL (`sqlite://path?…`, `sqlite:path`).
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    Some(rest.split('?').next().unwrap_or(rest))
}

/// The database could not be opened or migrated: where, why, and what to try.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the {target}: {cause}{}", hint.as_deref().map(|h| format!(". {h}")).unwrap_or_default())]
pub struct OpenError {
    target: String,
    cause: String,
    hint: Option<String>,
}

impl OpenError {
    fn new(url: &str, err: DbErr) -> Self {
        let cause = Self::cause(&err);
        Self {
            target: describe(url),
            hint: hint(url, &cause),
            cause,
        }
    }

    fn unreachable(url: &str, cause: String) -> Self {
        Self {
            target: describe(url),
            hint: hint(url, &cause),
            cause,
        }
    }

    /// The innermost reason, without sea-orm's and sqlx's wrapping.
    fn cause(err: &DbErr) -> String {
        use sea_orm::RuntimeErr;
        match err {
            DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
                match e.as_database_error() {
                    Some(db) => db.message().to_string(),
                    None => e.to_string(),
                }
            }
            other => other.to_string(),
        }
    }

    /// Whether waiting may help: the server is not there yet, as opposed to refusing us.
    fn may_pass(err: &DbErr) -> bool {
        use sea_orm::RuntimeErr;
        use sea_orm::sqlx::Error;
        match err {
            DbErr::Conn(RuntimeErr::SqlxError(e)) => {
                matches!(**e, Error::Io(_) | Error::PoolTimedOut)
            }
            _ => false,
        }
    }
}

/// What to try, from the reason a database gave.
fn hint(url: &str, cause: &str) -> Option<String> {
    let cause = cause.to_lowercase();
    if let Some(path) = sqlite_path(url) {
        let file = std::path::Path::new(path);
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        return Some(if !dir.exists() {
            format!("The directory {} does not exist: create it", dir.display())
        } else if !file.exists() && !url.contains("mode=rwc") {
            "The file does not exist: add ?mode=rwc to DATABASE_URL to create it".to_string()
        } else if cause.contains("readonly") || cause.contains("permission") {
            format!("Check that this user may write to {}", dir.display())
        } else {
            return None;
        });
    }
    let server = url::Url::parse(url).ok()?;
    let host = server.host_str().unwrap_or("localhost").to_string();
    let name = server.path().trim_start_matches('/').to_string();
    Some(
        if cause.contains("does not exist") && cause.contains("database") {
            format!(
                "Create it (createdb -h {host} -U {} {name})",
                server.username()
            )
        } else if cause.contains("password")
            || cause.contains("authentication")
            || (cause.contains("role") && cause.contains("does not exist"))
        {
            "Check the user and password in DATABASE_URL".to_string()
        } else if [
            "refused",
            "timed out",
            "no answer",
            "resolve",
            "unreachable",
        ]
        .iter()
        .any(|c| cause.contains(c))
        {
            format!(
                "Is PostgreSQL running and listening on {host}:{}? (pg_isready -h {host})",
                server.port().unwrap_or(5432)
            )
        } else {
            return None;
        },
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_described_without_passwords() {
        assert_eq!(
            describe("sqlite://data/census.db?mode=rwc"),
            "SQLite file data/census.db"
        );
        assert_eq!(
            describe("postgres://app:s3cret@db.example.org:6432/census"),
            "PostgreSQL database \"census\" at db.example.org:6432 as user \"app\""
        );
        assert_eq!(
            server_address("postgres://app@db:6432/census").as_deref(),
            Some("db:6432")
        );
        assert_eq!(server_address("sqlite://census.db"), None);
        assert_eq!(
            server_address("postgres://app@/census?host=/run/postgresql"),
            None
        );
    }

    #[test]
    fn server_errors_get_hints() {
        let url = "postgres://app@db:5432/census";
        let hint = |cause| super::hint(url, cause).unwrap_or_default();
        assert!(
            hint("database \"census\" does not exist").contains("createdb -h db -U app census")
        );
        assert!(hint("password authentication failed for user \"app\"").contains("password"));
        assert!(hint("Connection refused (os error 111)").contains("db:5432"));
        assert_eq!(super::hint(url, "something else"), None);
    }
}
