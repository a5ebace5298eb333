//! SeaORM repositories, identical on SQLite and PostgreSQL.

mod connect;
pub mod entities;
mod error;
mod project_repository;
mod session_repository;
mod user_repository;

pub use connect::{connect, ensure_sqlite_parent_dir, is_sqlite_url};
pub use error::storage_error;
pub use project_repository::SeaOrmProjectRepository;
pub use session_repository::SeaOrmSessionRepository;
pub use user_repository::SeaOrmUserRepository;
