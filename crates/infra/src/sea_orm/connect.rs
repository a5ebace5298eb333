use std::path::Path;
use std::time::Duration;

use auth_domain::common::{Readiness, StorageError};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Whether the URL names an SQLite database.
#[must_use]
pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Creates the folder of an SQLite database file when it is missing, so that
/// `sqlite://data/auth.db?mode=rwc` works on a fresh checkout.
///
/// # Errors
/// When the folder cannot be created.
pub fn ensure_sqlite_parent_dir(url: &str) -> std::io::Result<()> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(());
    };
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

/// Opens a connection pool. `max_connections` bounds the pool on
/// PostgreSQL; SQLite gets a small pool since it serialises writers anyway.
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    Database::connect(options(url, max_connections)).await
}

/// Opens the pool of the shared request counters (rate limits) on
/// PostgreSQL: its commits are asynchronous (`synchronous_commit = off`),
/// so they return without waiting for the WAL to reach the disk.
///
/// Every log-in updates the same few counter rows (its address and
/// account), and an update holds the row's lock until its commit returns:
/// with a synchronous commit, concurrent log-ins of one account queue
/// behind one disk flush each, which capped them well below the hashing
/// rate. A crash of the database server may lose the last few hundred
/// milliseconds of counting (the database stays consistent), never a
/// session, user or audit event: those keep the main pool's durable
/// commits. On SQLite this is the main pool, `db`.
///
/// # Errors
/// When the database cannot be reached.
pub async fn connect_counters(
    url: &str,
    db: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if is_sqlite_url(url) {
        return Ok(db.clone());
    }
    let mut options = options(url, COUNTER_CONNECTIONS);
    options.map_sqlx_postgres_opts(|pg| pg.options([("synchronous_commit", "off")]));
    Database::connect(options).await
}

/// Connections of the counters' pool: each statement is one short upsert.
const COUNTER_CONNECTIONS: u32 = 4;

fn options(url: &str, max_connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    let max = if is_sqlite_url(url) {
        max_connections.clamp(1, 8)
    } else {
        max_connections.max(1)
    };
    // WAL lets readers run beside the one writer; NORMAL sync is safe with
    // WAL (a power loss may drop the last commits, never corrupt the file).
    options.map_sqlx_sqlite_opts(|sqlite| {
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
    });
    // A connection idle for a while is pinged before it is handed out (a
    // server, proxy or firewall may have dropped it); a busy one is not:
    // pinging on every checkout, sqlx's default, costs a round trip per
    // query, half the cost of a token-authenticated read.
    options.test_before_acquire_if_idle_for(Duration::from_secs(30));
    options
        .max_connections(max)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    options
}

/// [`Readiness`] of the database: one `ping` round trip.
#[derive(Debug, Clone)]
pub struct SeaOrmReadiness {
    db: DatabaseConnection,
}

impl SeaOrmReadiness {
    /// The readiness of `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl Readiness for SeaOrmReadiness {
    async fn check(&self) -> Result<(), StorageError> {
        self.db.ping().await.map_err(super::storage_error)
    }
}
