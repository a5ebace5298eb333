use async_trait::async_trait;

use super::{Project, ProjectId};
use crate::common::StorageError;
use crate::user::UserId;

/// Why a project could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateProjectError {
    /// The owner already has a project of that name (case-insensitively).
    #[error("project name is taken")]
    NameTaken,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Where projects are kept.
///
/// # Errors
/// [`StorageError::Unavailable`] when the store cannot be reached,
/// [`StorageError::Unexpected`] otherwise; `insert` returns
/// [`CreateProjectError::NameTaken`] on a duplicate name, also under a race.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Stores a new project.
    async fn insert(&self, project: &Project) -> Result<(), CreateProjectError>;

    /// The project with this id if `owner` owns it. Another user's project is
    /// indistinguishable from a missing one.
    async fn find_owned(
        &self,
        owner: UserId,
        id: ProjectId,
    ) -> Result<Option<Project>, StorageError>;
}
