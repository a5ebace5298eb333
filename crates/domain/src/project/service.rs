use std::sync::Arc;

use super::{
    Project, ProjectDescription, ProjectId, ProjectName, ProjectRepository, WriteProjectError,
};
use crate::common::{Clock, IdGenerator, Page, PageRequest, StorageError};
use crate::user::UserId;

/// Why a project operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No such project of this owner.
    #[error("project not found")]
    NotFound,
    /// The owner already has a project of that name.
    #[error("project name is taken")]
    NameTaken,
    /// Storage is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

impl From<StorageError> for ProjectError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable(e) => Self::Unavailable(e),
            StorageError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<WriteProjectError> for ProjectError {
    fn from(error: WriteProjectError) -> Self {
        match error {
            WriteProjectError::NameTaken => Self::NameTaken,
            WriteProjectError::Storage(e) => e.into(),
        }
    }
}

/// Changes to a project; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    /// A new name.
    pub name: Option<ProjectName>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<ProjectDescription>>,
}

/// Projects owned by users. Ownership is enforced here: every operation
/// takes the acting user and sees only their projects.
#[allow(missing_debug_implementations)]
pub struct ProjectService {
    projects: Arc<dyn ProjectRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl ProjectService {
    /// A service on the given ports.
    #[must_use]
    pub fn new(
        projects: Arc<dyn ProjectRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            projects,
            clock,
            ids,
        }
    }

    /// Creates a project owned by `owner`.
    ///
    /// # Errors
    /// [`ProjectError::NameTaken`] when `owner` has a project of that name.
    pub async fn create(
        &self,
        owner: UserId,
        name: ProjectName,
        description: Option<ProjectDescription>,
    ) -> Result<Project, ProjectError> {
        let now = self.clock.now();
        let project = Project {
            id: ProjectId(self.ids.new_id()),
            owner_id: owner,
            name,
            description,
            created_at: now,
            updated_at: now,
        };
        self.projects.insert(&project).await?;
        Ok(project)
    }

    /// A page of `owner`'s projects, newest first.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn list(
        &self,
        owner: UserId,
        page: PageRequest,
    ) -> Result<Page<Project>, ProjectError> {
        Ok(self.projects.list_owned(owner, page).await?)
    }

    /// One of `owner`'s projects.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`] for a missing project or another user's.
    pub async fn get(&self, owner: UserId, id: ProjectId) -> Result<Project, ProjectError> {
        self.projects
            .find_owned(owner, id)
            .await?
            .ok_or(ProjectError::NotFound)
    }

    /// Applies `changes` to one of `owner`'s projects.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`] for a missing project or another user's;
    /// [`ProjectError::NameTaken`] when the new name is in use.
    pub async fn update(
        &self,
        owner: UserId,
        id: ProjectId,
        changes: ProjectChanges,
    ) -> Result<Project, ProjectError> {
        let mut project = self.get(owner, id).await?;
        if let Some(name) = changes.name {
            project.name = name;
        }
        if let Some(description) = changes.description {
            project.description = description;
        }
        project.updated_at = self.clock.now();
        if !self.projects.update(&project).await? {
            return Err(ProjectError::NotFound);
        }
        Ok(project)
    }

    /// Deletes one of `owner`'s projects.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`] for a missing project or another user's.
    pub async fn delete(&self, owner: UserId, id: ProjectId) -> Result<(), ProjectError> {
        if self.projects.delete_owned(owner, id).await? {
            Ok(())
        } else {
            Err(ProjectError::NotFound)
        }
    }
}
