//! Database schema of Auth Module, as reversible SeaORM migrations that run
//! unchanged on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_users;
mod m20261128_000002_create_projects;
mod m20261128_000003_create_sessions;
mod m20261128_000004_create_refresh_tokens;
mod m20261128_000005_create_rate_limits;
mod m20261128_000006_create_action_tokens;
mod m20261202_000007_one_live_refresh_token;
mod m20261202_000009_audit_events;

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
            Box::new(m20261202_000009_audit_events::Migration),
        ]
    }
}
