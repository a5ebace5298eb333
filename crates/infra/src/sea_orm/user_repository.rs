use anyhow::anyhow;
use async_trait::async_trait;
use auth_domain::common::{Cursor, Page, PageRequest, StorageError};
use auth_domain::user::{
    AccessUpdate, CreateUserError, DisplayName, Email, PasswordHash, Role, User, UserId,
    UserRepository,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait as _, DatabaseBackend, DatabaseConnection,
    EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QuerySelect as _,
    TransactionTrait as _,
};

use super::entities::user;
use super::error::{is_unique_violation, storage_error};

/// [`UserRepository`] on SeaORM.
#[derive(Debug, Clone)]
pub struct SeaOrmUserRepository {
    db: DatabaseConnection,
}

impl SeaOrmUserRepository {
    /// A repository on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Rebuilds a domain user from a row.
pub(crate) fn to_domain(row: user::Model) -> Result<User, StorageError> {
    Ok(User {
        id: UserId(row.id),
        email: Email::from_trusted(row.email),
        password_hash: PasswordHash::new(row.password_hash),
        display_name: row.display_name.map(DisplayName::from_trusted),
        email_verified: row.email_verified,
        role: row
            .role
            .parse()
            .map_err(|_| StorageError::Unexpected(anyhow!("unknown role {:?} stored", row.role)))?,
        is_active: row.is_active,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_row(user: &User) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(user.id.0),
        email: Set(user.email.as_str().to_owned()),
        password_hash: Set(user.password_hash.as_str().to_owned()),
        display_name: Set(user.display_name.as_ref().map(|n| n.as_str().to_owned())),
        email_verified: Set(user.email_verified),
        role: Set(user.role.as_str().to_owned()),
        is_active: Set(user.is_active),
        created_at: Set(user.created_at),
        updated_at: Set(user.updated_at),
    }
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    async fn insert(&self, user: &User) -> Result<(), CreateUserError> {
        user::Entity::insert(to_row(user))
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    CreateUserError::EmailTaken
                } else {
                    storage_error(e).into()
                }
            })?;
        Ok(())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError> {
        user::Entity::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(storage_error)?
            .map(to_domain)
            .transpose()
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(storage_error)?
            .map(to_domain)
            .transpose()
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let result = user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash.as_str()))
            .col_expr(user::Column::UpdatedAt, Expr::value(updated_at))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn list(
        &self,
        page: PageRequest,
        email_prefix: Option<String>,
    ) -> Result<Page<User>, StorageError> {
        let mut query = user::Entity::find();
        if let Some(prefix) = email_prefix {
            let escaped = prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            query = query.filter(
                Expr::col(user::Column::Email)
                    .like(LikeExpr::new(format!("{escaped}%")).escape('\\')),
            );
        }
        let rows =
            super::keyset::newest_first(query, user::Column::CreatedAt, user::Column::Id, page)
                .all(&self.db)
                .await
                .map_err(storage_error)?
                .into_iter()
                .map(to_domain)
                .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit, |u| Cursor {
            created_at: u.created_at,
            id: u.id.0,
        }))
    }

    async fn update_access(
        &self,
        id: UserId,
        is_active: bool,
        role: Role,
        updated_at: DateTime<Utc>,
        keep_an_admin: bool,
    ) -> Result<AccessUpdate, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
        if keep_an_admin && postgres {
            // Locks every active administrator's row: a concurrent change to
            // any of them waits for this transaction, then sees its result.
            user::Entity::find()
                .filter(user::Column::Role.eq(Role::Admin.as_str()))
                .filter(user::Column::IsActive.eq(true))
                .lock_exclusive()
                .all(&txn)
                .await
                .map_err(storage_error)?;
        }
        // On SQLite this first write takes the database's write lock, so the
        // count below cannot race another writer.
        let updated = user::Entity::update_many()
            .col_expr(user::Column::IsActive, Expr::value(is_active))
            .col_expr(user::Column::Role, Expr::value(role.as_str()))
            .col_expr(user::Column::UpdatedAt, Expr::value(updated_at))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(storage_error)?;
        if updated.rows_affected != 1 {
            txn.rollback().await.map_err(storage_error)?;
            return Ok(AccessUpdate::NotFound);
        }
        if keep_an_admin {
            let others = user::Entity::find()
                .filter(user::Column::Role.eq(Role::Admin.as_str()))
                .filter(user::Column::IsActive.eq(true))
                .filter(user::Column::Id.ne(id.0))
                .count(&txn)
                .await
                .map_err(storage_error)?;
            if others == 0 {
                txn.rollback().await.map_err(storage_error)?;
                return Ok(AccessUpdate::LastAdmin);
            }
        }
        txn.commit().await.map_err(storage_error)?;
        Ok(AccessUpdate::Updated)
    }

    async fn update_display_name(
        &self,
        id: UserId,
        display_name: Option<DisplayName>,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::DisplayName,
                Expr::value(display_name.map(|n| n.as_str().to_owned())),
            )
            .col_expr(user::Column::UpdatedAt, Expr::value(updated_at))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn set_email_verified(
        &self,
        id: UserId,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let result = user::Entity::update_many()
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            .col_expr(user::Column::UpdatedAt, Expr::value(updated_at))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn delete(&self, id: UserId) -> Result<bool, StorageError> {
        let result = user::Entity::delete_by_id(id.0)
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }
}
