//! Fresh, migrated databases for tests (feature `testing`).
//!
//! Every test gets its own database: an SQLite file in the temp folder, or,
//! when `TEST_DATABASE_URL` names a PostgreSQL server, a new database named
//! with a UUID on it. Both are removed when the [`TestDatabase`] is dropped,
//! also when the test panics.
//!
//! With `TEST_DATABASE_URL` unset, [`TestDatabase::postgres`] returns `None`
//! and the PostgreSQL variant of a [`db_test!`](crate::db_test) ends early;
//! with it set, an unreachable server fails the test.

#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use auth_migrations::{Migrator, MigratorTrait as _};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};
use uuid::Uuid;

use crate::sea_orm::connect;

/// The environment variable naming the PostgreSQL server tests may use.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A database on the `TEST_DATABASE_URL` server.
    Postgres,
}

#[derive(Debug)]
enum Cleanup {
    SqliteFile(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// A migrated database that disappears when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// A pool on the database.
    pub db: DatabaseConnection,
    /// Its URL, to hand to an application under test.
    pub url: String,
    cleanup: Cleanup,
}

impl TestDatabase {
    /// A database of the given backend; `None` for PostgreSQL without
    /// `TEST_DATABASE_URL`.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A migrated SQLite file in the temp folder.
    ///
    /// # Panics
    /// When the file cannot be created or migrated.
    pub async fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("auth-test-{}.db", Uuid::now_v7()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = connect(&url, 4)
            .await
            .expect("open the SQLite test database");
        Migrator::up(&db, None)
            .await
            .expect("migrate the SQLite test database");
        Self {
            db,
            url,
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    /// A migrated, freshly created PostgreSQL database, or `None` when
    /// `TEST_DATABASE_URL` is unset.
    ///
    /// # Panics
    /// When `TEST_DATABASE_URL` is set but the server cannot be reached, or
    /// the database cannot be created or migrated: a configured PostgreSQL
    /// test must fail, not skip.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_with(true).await
    }

    /// An empty, freshly created PostgreSQL database (no migration
    /// applied), or `None` when `TEST_DATABASE_URL` is unset.
    ///
    /// # Panics
    /// As [`TestDatabase::postgres`].
    pub async fn postgres_unmigrated() -> Option<Self> {
        Self::postgres_with(false).await
    }

    async fn postgres_with(migrate: bool) -> Option<Self> {
        let admin_url = std::env::var(TEST_DATABASE_URL)
            .ok()
            .filter(|u| !u.is_empty())?;
        let name = format!("auth_test_{}", Uuid::now_v7().simple());
        let admin = connect(&admin_url, 1)
            .await
            .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL} is set but unreachable: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the PostgreSQL test database");
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        let db = connect(&url, 10)
            .await
            .expect("open the PostgreSQL test database");
        if migrate {
            Migrator::up(&db, None)
                .await
                .expect("migrate the PostgreSQL test database");
        }
        Some(Self {
            db,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime, which cannot block on
                // async work: a short-lived thread with its own runtime can.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    runtime.block_on(async {
                        if let Ok(admin) = connect(&admin_url, 1).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                            admin.close().await.ok();
                        }
                    });
                })
                .join();
                if dropped.is_err() {
                    eprintln!("could not drop test database");
                }
            }
        }
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Defines a test that runs once on SQLite (`<name>::sqlite`) and once on
/// PostgreSQL (`<name>::postgres`), each on a fresh database bound to `$db`.
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* $name:ident, |$db:ident| $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::testing::TestDatabase::sqlite().await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($db) = $crate::testing::TestDatabase::postgres().await else {
                    eprintln!("TEST_DATABASE_URL is unset: PostgreSQL variant not run");
                    return;
                };
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}

/// A clock that stands still until a test moves it: tests skip a grace
/// period or a token lifetime instead of sleeping through it. It starts at
/// the system's time (truncated to microseconds, as stored), so rows it
/// stamps sort sensibly with real ones.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl Default for ManualClock {
    fn default() -> Self {
        use auth_domain::common::Clock as _;
        Self(std::sync::Mutex::new(crate::system::SystemClock.now()))
    }
}

impl ManualClock {
    /// Moves the time forward by `by`.
    ///
    /// # Panics
    /// When a test panicked while holding the clock.
    #[allow(clippy::expect_used)]
    pub fn advance(&self, by: chrono::TimeDelta) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl auth_domain::common::Clock for ManualClock {
    #[allow(clippy::expect_used)]
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().expect("clock lock")
    }
}
