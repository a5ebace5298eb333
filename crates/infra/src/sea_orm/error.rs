use auth_domain::common::StorageError;
use sea_orm::{DbErr, RuntimeErr};

/// Whether a database error means "the database is not reachable right now"
/// (connection refused, pool exhausted, I/O) rather than a bug.
fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match &**e {
                sea_orm::sqlx::Error::Io(_)
                | sea_orm::sqlx::Error::PoolTimedOut
                | sea_orm::sqlx::Error::PoolClosed
                | sea_orm::sqlx::Error::WorkerCrashed => true,
                sea_orm::sqlx::Error::Database(error) => {
                    error.code().is_some_and(|code| is_unavailable_code(&code))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// PostgreSQL's codes for a server that is gone or refusing work for now:
/// connection exceptions (class 08), an administrator's or a crash's
/// shutdown, a server still starting (57P01–57P03), and a database that
/// does not exist (any more).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "3D000")
}

/// Translates a SeaORM error into the domain's storage error.
#[must_use]
pub fn storage_error(error: DbErr) -> StorageError {
    if is_unavailable(&error) {
        StorageError::Unavailable(error.into())
    } else {
        StorageError::Unexpected(error.into())
    }
}

/// Whether the error is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
