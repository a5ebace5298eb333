use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use auth_domain::common::{Readiness, StorageError};
use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Whether the URL names an SQLite database.
#[must_use]
pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Checks that the driver accepts `url` and every option in it (an
/// unknown `sslmode` or `mode` value, say), without connecting: a
/// configuration check can then refuse what `connect` would.
///
/// # Errors
/// The driver's reason.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = if is_sqlite_url(url) {
        sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url).map(drop)
    } else {
        PgConnectOptions::from_str(url).map(drop)
    };
    parsed.map_err(|error| error.to_string())
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
    let mut options = options(url, max_connections);
    if let Some(mode) = plaintext_on_this_host(url).await {
        options.map_sqlx_postgres_opts(move |pg| pg.ssl_mode(mode));
    }
    Database::connect(options).await
}

/// [`PgSslMode::Disable`] when `url` names a PostgreSQL server on this host
/// (a loopback address, `localhost` or a Unix socket), neither the URL nor
/// `PGSSLMODE` chooses an `sslmode`, and the server accepts an unencrypted
/// connection; `None`, leaving sqlx's `prefer`, otherwise.
///
/// `prefer` encrypts whenever the server offers TLS (Debian's and Ubuntu's
/// packages offer it with a self-signed certificate), also over loopback,
/// where it protects against nobody `prefer` would stop anyway (it checks
/// no certificate) and costs every query its encryption on both sides:
/// about a tenth of the database server's CPU per log-in. A server that
/// insists on TLS (`hostssl` in `pg_hba.conf`) refuses the probe, and
/// `prefer` stays.
async fn plaintext_on_this_host(url: &str) -> Option<PgSslMode> {
    if is_sqlite_url(url) || names_ssl_mode(url) || std::env::var_os("PGSSLMODE").is_some() {
        return None;
    }
    let options = PgConnectOptions::from_str(url).ok()?;
    if !on_this_host(&options) {
        return None;
    }
    let probe = options.ssl_mode(PgSslMode::Disable);
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&probe)).await {
        Ok(Ok(connection)) => {
            // Closing is a courtesy; the probe answered what it was for.
            let _ = connection.close().await;
            Some(PgSslMode::Disable)
        }
        _ => None,
    }
}

/// Whether the URL's query chooses a TLS mode itself.
fn names_ssl_mode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode")
        })
    })
}

/// Whether the server is reached without leaving this host.
fn on_this_host(options: &PgConnectOptions) -> bool {
    let host = options
        .get_host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    options.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    // The same TLS choice as the main pool's (`connect`).
    let ssl_mode = db
        .get_postgres_connection_pool()
        .connect_options()
        .get_ssl_mode();
    options.map_sqlx_postgres_opts(move |pg| {
        pg.options([("synchronous_commit", "off")])
            .ssl_mode(ssl_mode)
    });
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

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use super::{PgConnectOptions, names_ssl_mode, on_this_host};

    #[test]
    fn an_ssl_mode_in_the_url_is_the_users_choice() {
        assert!(names_ssl_mode("postgres://u@h/db?sslmode=require"));
        assert!(names_ssl_mode(
            "postgres://u@h/db?application_name=x&SSLMODE=prefer"
        ));
        assert!(names_ssl_mode("postgres://u@h/db?ssl-mode=disable"));
        assert!(!names_ssl_mode("postgres://u@h/db"));
        assert!(!names_ssl_mode(
            "postgres://u@h/db?application_name=sslmode"
        ));
    }

    #[test]
    fn only_loopback_hosts_and_sockets_are_this_host() {
        let local = |url: &str| on_this_host(&PgConnectOptions::from_str(url).expect("a URL"));
        assert!(local("postgres://postgres@127.0.0.1:5432/auth"));
        assert!(local("postgres://postgres@127.3.2.1/auth"));
        assert!(local("postgres://postgres@localhost/auth"));
        assert!(local("postgres://postgres@[::1]:5432/auth"));
        assert!(local("postgres://postgres@%2Fvar%2Frun%2Fpostgresql/auth"));
        assert!(!local("postgres://postgres@db.internal:5432/auth"));
        assert!(!local("postgres://postgres@10.0.0.7/auth"));
        assert!(!local("postgres://postgres@[2001:db8::1]/auth"));
    }
}
