use auth_domain::common::StorageError;
use sea_orm::{DbErr, RuntimeErr};

/// Whether a database error means "the database is not reachable right now"
/// (connection refused, pool exhausted, I/O) rather than a bug.
fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                **e,
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    }
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
