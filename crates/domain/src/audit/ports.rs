use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{AuditEvent, AuditFilter};
use crate::common::{Page, PageRequest, StorageError};

/// Where audit events are kept.
///
/// Events that accompany a change are written by the repository making the
/// change, in its transaction (see [`crate::user::UserRepository`]); this
/// port stores the others, and reads and purges them all.
///
/// # Errors
/// Every method returns [`StorageError::Unavailable`] when the store cannot
/// be reached and [`StorageError::Unexpected`] for anything else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Stores one event on its own.
    async fn record(&self, event: &AuditEvent) -> Result<(), StorageError>;

    /// A page of events matching `filter`, newest first by
    /// `(created_at, id)`.
    async fn list(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, StorageError>;

    /// Deletes the events created before `before`, returning how many.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}
