//! Database schema of Auth Module, as reversible SeaORM migrations that run
//! unchanged on SQLite and PostgreSQL.
//!
//! Apply them with [`apply_pending`] (and revert with [`revert_latest`]),
//! not with `Migrator::up` directly: on PostgreSQL those take a
//! database-wide lock, so any number of instances starting together apply
//! each migration once.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseConnection, DbBackend, Statement, TransactionTrait as _};

mod m20261128_000001_create_users;
mod m20261128_000002_create_projects;
mod m20261128_000003_create_sessions;
mod m20261128_000004_create_refresh_tokens;
mod m20261128_000005_create_rate_limits;
mod m20261128_000006_create_action_tokens;
mod m20261202_000007_one_live_refresh_token;
mod m20261202_000008_mfa;
mod m20261202_000009_audit_events;
mod m20261202_000010_mail_outbox;

/// Applies and reverts the schema.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_users::Migration),
            Box::new(m20261128_000002_create_projects::Migration),
            Box::new(m20261128_000003_create_sessions::Migration),
            Box::new(m20261128_000004_create_refresh_tokens::Migration),
            Box::new(m20261128_000005_create_rate_limits::Migration),
            Box::new(m20261128_000006_create_action_tokens::Migration),
            Box::new(m20261202_000007_one_live_refresh_token::Migration),
            Box::new(m20261202_000008_mfa::Migration),
            Box::new(m20261202_000009_audit_events::Migration),
            Box::new(m20261202_000010_mail_outbox::Migration),
        ]
    }
}

/// The key of the PostgreSQL advisory lock that serialises migration runs
/// (`authmigr` in ASCII). Any fixed number works, as long as nothing else
/// on the database takes an advisory lock with it.
pub const MIGRATION_LOCK_KEY: i64 = 0x6175_7468_6d69_6772;

/// What a locked run does.
#[derive(Debug, Clone, Copy)]
enum Run {
    Up,
    DownOne,
}

/// Applies every pending migration.
///
/// On PostgreSQL the whole run is one transaction that first takes the
/// transaction-level advisory lock [`MIGRATION_LOCK_KEY`]: concurrent runs
/// (several instances starting at once) wait for each other, and each one
/// that gets the lock sees what the previous ones applied, so every
/// migration is applied once. The lock lives on the transaction's single
/// connection and is released by its commit or rollback, also when a
/// migration fails (which then leaves the schema as it was). SQLite has
/// one writer at a time and no such lock; run one migrator per file.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn apply_pending(db: &DatabaseConnection) -> Result<(), DbErr> {
    locked(db, Run::Up).await
}

/// The names of the migrations of this build that `db` has not applied, in
/// order, read without creating or changing anything: a database never
/// migrated has them all pending, and one migrated by a newer build has
/// none (what it has beyond them is not this build's business).
///
/// # Errors
/// When the database cannot be read.
pub async fn pending(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let known = Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect::<Vec<_>>();
    if !SchemaManager::new(db).has_table("seaql_migrations").await? {
        return Ok(known);
    }
    let applied = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect::<Result<std::collections::HashSet<_>, _>>()?;
    Ok(known
        .into_iter()
        .filter(|name| !applied.contains(name))
        .collect())
}

/// Reverts the most recent migration, under the same lock as
/// [`apply_pending`].
///
/// # Errors
/// When the database cannot be reached or the migration cannot be reverted.
pub async fn revert_latest(db: &DatabaseConnection) -> Result<(), DbErr> {
    locked(db, Run::DownOne).await
}

async fn locked(db: &DatabaseConnection, run: Run) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return match run {
            Run::Up => Migrator::up(db, None).await,
            Run::DownOne => Migrator::down(db, Some(1)).await,
        };
    }
    // A session-level lock taken through the pool could be taken on one
    // connection and released on another; a transaction holds one
    // connection from its first statement to its end.
    let transaction = db.begin().await?;
    transaction
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [MIGRATION_LOCK_KEY.into()],
        ))
        .await?;
    match run {
        Run::Up => Migrator::up(&transaction, None).await?,
        Run::DownOne => Migrator::down(&transaction, Some(1)).await?,
    }
    transaction.commit().await
}
