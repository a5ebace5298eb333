//! SeaORM repositories, identical on SQLite and PostgreSQL.

mod action_token_repository;
mod audit_log;
mod batching;
mod connect;
pub mod entities;
mod error;
mod keyset;
mod mail_outbox;
mod mfa_challenge_repository;
mod one_statement;
mod project_repository;
mod rate_limiter;
mod rotation_writer;
mod second_factor_repository;
mod session_reader;
mod session_repository;
mod user_repository;
mod write_gate;

pub use action_token_repository::SeaOrmActionTokenRepository;
pub use audit_log::SeaOrmAuditLog;
pub use connect::{
    SeaOrmReadiness, check_url, connect, connect_counters, ensure_sqlite_parent_dir, is_sqlite_url,
};
pub use error::storage_error;
pub use mail_outbox::{ClaimedMail, SeaOrmMailOutbox};
pub use mfa_challenge_repository::SeaOrmMfaChallengeRepository;
pub use project_repository::SeaOrmProjectRepository;
pub use rate_limiter::SeaOrmRateLimiter;
pub use sea_orm::DatabaseConnection;
pub use second_factor_repository::SeaOrmSecondFactorRepository;
pub use session_repository::SeaOrmSessionRepository;
pub use user_repository::SeaOrmUserRepository;
