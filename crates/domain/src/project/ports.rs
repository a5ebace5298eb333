use async_trait::async_trait;

use super::{Project, ProjectId};
use crate::common::{Page, PageRequest, StorageError};
use crate::user::UserId;

/// Why a project could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteProjectError {
    /// The owner already has a project of that name (case-insensitively).
    #[error("project name is taken")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Where projects are kept. Every lookup is scoped to an owner, so another
/// user's project is indistinguishable from a missing one.
///
/// # Errors
/// [`StorageError::Unavailable`] when the store cannot be reached,
/// [`StorageError::Unexpected`] otherwise; `insert` and `update` return
/// [`WriteProjectError::NameTaken`] on a duplicate name, also under a race
/// (a unique constraint decides, not a read before the write).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Stores a new project.
    async fn insert(&self, project: &Project) -> Result<(), WriteProjectError>;

    /// The project with this id if `owner` owns it.
    async fn find_owned(
        &self,
        owner: UserId,
        id: ProjectId,
    ) -> Result<Option<Project>, StorageError>;

    /// A page of `owner`'s projects, newest first.
    async fn list_owned(
        &self,
        owner: UserId,
        page: PageRequest,
    ) -> Result<Page<Project>, StorageError>;

    /// Saves the name, description and `updated_at` of a project `owner`
    /// owns; `false` when it is gone.
    async fn update(&self, project: &Project) -> Result<bool, WriteProjectError>;

    /// Deletes a project `owner` owns; `false` when there was none.
    async fn delete_owned(&self, owner: UserId, id: ProjectId) -> Result<bool, StorageError>;
}
