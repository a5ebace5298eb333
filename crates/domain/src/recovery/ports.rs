use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ActionToken, TokenPurpose};
use crate::common::{StorageError, TokenHash};
use crate::user::UserId;

/// Where action tokens are kept.
///
/// # Errors
/// [`StorageError::Unavailable`] when the store cannot be reached,
/// [`StorageError::Unexpected`] otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ActionTokenRepository: Send + Sync {
    /// Stores a new token and, in the same transaction, marks the user's
    /// earlier unused tokens of the same purpose used: only the newest link
    /// works.
    async fn insert(&self, token: &ActionToken) -> Result<(), StorageError>;

    /// Marks every unused token of `user` for `purpose` used at `now` (after
    /// a password change or reset, every outstanding reset link dies);
    /// returns how many.
    async fn invalidate(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError>;

    /// The unused, unexpired token with this hash and purpose.
    async fn find_valid(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<ActionToken>, StorageError>;

    /// Marks the token used, once: `false` when it was used already (a
    /// concurrent request won) or expired.
    async fn consume(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError>;

    /// Deletes tokens that expired before `before`, used or not.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}
