use async_trait::async_trait;
use auth_domain::common::{Cursor, Page, PageRequest, StorageError};
use auth_domain::project::{
    Project, ProjectDescription, ProjectId, ProjectName, ProjectRepository, WriteProjectError,
};
use auth_domain::user::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, DatabaseConnection, DbErr, EntityTrait as _,
    QueryFilter as _,
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

fn write_error(error: DbErr) -> WriteProjectError {
    if is_unique_violation(&error) {
        WriteProjectError::NameTaken
    } else {
        storage_error(error).into()
    }
}

#[async_trait]
impl ProjectRepository for SeaOrmProjectRepository {
    async fn insert(&self, project: &Project) -> Result<(), WriteProjectError> {
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
            .map_err(write_error)?;
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

    async fn list_owned(
        &self,
        owner: UserId,
        page: PageRequest,
    ) -> Result<Page<Project>, StorageError> {
        let query = project::Entity::find().filter(project::Column::OwnerId.eq(owner.0));
        let rows = super::keyset::newest_first(
            query,
            project::Column::CreatedAt,
            project::Column::Id,
            page,
        )
        .all(&self.db)
        .await
        .map_err(storage_error)?
        .into_iter()
        .map(to_domain)
        .collect();
        Ok(Page::from_rows(rows, page.limit, |p: &Project| Cursor {
            created_at: p.created_at,
            id: p.id.0,
        }))
    }

    async fn update(&self, project: &Project) -> Result<bool, WriteProjectError> {
        let result = project::Entity::update_many()
            .col_expr(project::Column::Name, Expr::value(project.name.as_str()))
            .col_expr(project::Column::NameKey, Expr::value(project.name.key()))
            .col_expr(
                project::Column::Description,
                Expr::value(project.description.as_ref().map(|d| d.as_str().to_owned())),
            )
            .col_expr(project::Column::UpdatedAt, Expr::value(project.updated_at))
            .filter(project::Column::Id.eq(project.id.0))
            .filter(project::Column::OwnerId.eq(project.owner_id.0))
            .exec(&self.db)
            .await
            .map_err(write_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn delete_owned(&self, owner: UserId, id: ProjectId) -> Result<bool, StorageError> {
        let result = project::Entity::delete_many()
            .filter(project::Column::Id.eq(id.0))
            .filter(project::Column::OwnerId.eq(owner.0))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }
}
