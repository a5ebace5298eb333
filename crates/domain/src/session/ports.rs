use async_trait::async_trait;

use super::{Session, SessionId};
use crate::common::StorageError;
use crate::user::User;

/// Where sessions are kept.
///
/// # Errors
/// Every method returns [`StorageError::Unavailable`] when the store cannot be
/// reached and [`StorageError::Unexpected`] for anything else (including an
/// insert for a user that no longer exists).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session.
    async fn insert(&self, session: &Session) -> Result<(), StorageError>;

    /// The session with this id together with its user, read in one lookup:
    /// this runs on every authenticated request.
    async fn find_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StorageError>;
}
