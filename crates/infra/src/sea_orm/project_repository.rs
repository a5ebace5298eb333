use async_trait::async_trait;
use auth_domain::common::StorageError;
use auth_domain::project::{
    CreateProjectError, Project, ProjectDescription, ProjectId, ProjectName, ProjectRepository,
};
use auth_domain::user::UserId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _,
};

use super::entities::project;
use super::error::{is_unique_violation, storage_error};

/// [`ProjectRepository`] on SeaORM.
#[derive(Debug, Clone)]
pub struct SeaOrmProjectRepository {
    db: DatabaseConnection,
}

impl SeaOrmProjectRepository {
    /// A repository on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_domain(row: project::Model) -> Project {
    Project {
        id: ProjectId(row.id),
        owner_id: UserId(row.owner_id),
        name: ProjectName::from_trusted(row.name),
        description: row.description.map(ProjectDescription::from_trusted),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

#[async_trait]
impl ProjectRepository for SeaOrmProjectRepository {
    async fn insert(&self, project: &Project) -> Result<(), CreateProjectError> {
        let row = project::ActiveModel {
            id: Set(project.id.0),
            owner_id: Set(project.owner_id.0),
            name: Set(project.name.as_str().to_owned()),
            name_key: Set(project.name.key()),
            description: Set(project.description.as_ref().map(|d| d.as_str().to_owned())),
            created_at: Set(project.created_at),
            updated_at: Set(project.updated_at),
        };
        project::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    CreateProjectError::NameTaken
                } else {
                    storage_error(e).into()
                }
            })?;
        Ok(())
    }

    async fn find_owned(
        &self,
        owner: UserId,
        id: ProjectId,
    ) -> Result<Option<Project>, StorageError> {
        Ok(project::Entity::find_by_id(id.0)
            .filter(project::Column::OwnerId.eq(owner.0))
            .one(&self.db)
            .await
            .map_err(storage_error)?
            .map(to_domain))
    }
}
