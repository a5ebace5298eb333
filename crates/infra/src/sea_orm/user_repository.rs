use anyhow::anyhow;
use async_trait::async_trait;
use auth_domain::audit::AuditEvent;
use auth_domain::common::{Cursor, Page, PageRequest, StorageError};
use auth_domain::recovery::TokenPurpose;
use auth_domain::user::{
    AccessChanges, AccessUpdate, CreateUserError, DisplayName, Email, PasswordChange, PasswordHash,
    Role, User, UserId, UserRepository,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait as _, DatabaseBackend,
    DatabaseConnection, EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, TransactionTrait as _,
};

use super::action_token_repository::invalidate as invalidate_links;
use super::audit_log::{event_insert, insert_event};
use super::entities::{mfa_challenge, session, user};
use super::error::{is_unique_violation, storage_error};
use super::one_statement;

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
        mfa_enabled: row.mfa_enabled,
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
        mfa_enabled: Set(user.mfa_enabled),
        created_at: Set(user.created_at),
        updated_at: Set(user.updated_at),
    }
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    async fn insert(&self, user: &User, audit: &AuditEvent) -> Result<(), CreateUserError> {
        let taken = |e: sea_orm::DbErr| {
            if is_unique_violation(&e) {
                CreateUserError::EmailTaken
            } else {
                storage_error(e).into()
            }
        };
        let insert = user::Entity::insert(to_row(user));
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            let statement = one_statement::both(&insert, &event_insert(audit));
            self.db.execute_raw(statement).await.map_err(taken)?;
            return Ok(());
        }
        let txn = self.db.begin().await.map_err(storage_error)?;
        // Dropping the transaction on an error rolls it back.
        insert.exec_without_returning(&txn).await.map_err(taken)?;
        insert_event(&txn, audit).await?;
        txn.commit().await.map_err(storage_error)?;
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
        audit: Option<AuditEvent>,
        change: PasswordChange,
    ) -> Result<Option<u64>, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        let result = user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash.as_str()))
            .col_expr(user::Column::UpdatedAt, Expr::value(updated_at))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(storage_error)?;
        let changed = result.rows_affected == 1;
        let mut revoked = 0;
        if let (true, PasswordChange::NewPassword { keep }) = (changed, change) {
            // In the same transaction: a new password never commits while
            // the sessions and reset links it ends stay live.
            let mut sessions = session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(updated_at))
                .filter(session::Column::UserId.eq(id.0))
                .filter(session::Column::RevokedAt.is_null());
            if let Some(keep) = keep {
                sessions = sessions.filter(session::Column::Id.ne(keep.0));
            }
            revoked = sessions
                .exec(&txn)
                .await
                .map_err(storage_error)?
                .rows_affected;
            invalidate_links(&txn, id, TokenPurpose::ResetPassword, updated_at)
                .await
                .map_err(storage_error)?;
            // An `mfa_token` stands for the old password having been right.
            mfa_challenge::Entity::delete_many()
                .filter(mfa_challenge::Column::UserId.eq(id.0))
                .exec(&txn)
                .await
                .map_err(storage_error)?;
        }
        Ok(record_if_changed(txn, changed, audit.as_ref())
            .await?
            .then_some(revoked))
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
        changes: AccessChanges,
        updated_at: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<AccessUpdate, StorageError> {
        let admin = Role::Admin.as_str();
        let may_remove_an_admin =
            changes.is_active == Some(false) || changes.role == Some(Role::User);
        let txn = self.db.begin().await.map_err(storage_error)?;
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            // Locks the row, and when the change may remove an administrator
            // every active administrator's row too, in id order so that
            // concurrent changes queue instead of deadlocking.
            let mut rows = Condition::any().add(user::Column::Id.eq(id.0));
            if may_remove_an_admin {
                rows = rows.add(
                    Condition::all()
                        .add(user::Column::Role.eq(admin))
                        .add(user::Column::IsActive.eq(true)),
                );
            }
            user::Entity::find()
                .filter(rows)
                .order_by_asc(user::Column::Id)
                .lock_exclusive()
                .all(&txn)
                .await
                .map_err(storage_error)?;
        } else {
            // SQLite: a first write takes the database's write lock, so what
            // is read below cannot change before the commit.
            user::Entity::update_many()
                .col_expr(user::Column::UpdatedAt, Expr::col(user::Column::UpdatedAt))
                .filter(user::Column::Id.eq(id.0))
                .exec(&txn)
                .await
                .map_err(storage_error)?;
        }
        let Some(row) = user::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(storage_error)?
        else {
            txn.rollback().await.map_err(storage_error)?;
            return Ok(AccessUpdate::NotFound);
        };
        let before = to_domain(row)?;
        let after = User {
            is_active: changes.is_active.unwrap_or(before.is_active),
            role: changes.role.unwrap_or(before.role),
            updated_at,
            ..before.clone()
        };
        let was_active_admin = before.is_active && before.role == Role::Admin;
        let stays_active_admin = after.is_active && after.role == Role::Admin;
        if was_active_admin && !stays_active_admin {
            let others = user::Entity::find()
                .filter(user::Column::Role.eq(admin))
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
        user::Entity::update_many()
            .col_expr(user::Column::IsActive, Expr::value(after.is_active))
            .col_expr(user::Column::Role, Expr::value(after.role.as_str()))
            .col_expr(user::Column::UpdatedAt, Expr::value(updated_at))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(storage_error)?;
        if before.is_active && !after.is_active {
            // In the same transaction: a disabled user's sessions never
            // outlive the change, so none comes back if they are enabled
            // again.
            session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(updated_at))
                .filter(session::Column::UserId.eq(id.0))
                .filter(session::Column::RevokedAt.is_null())
                .exec(&txn)
                .await
                .map_err(storage_error)?;
        }
        // A request that changes nothing records nothing.
        if let Some(event) = audit.map(|event| event.with_access_changes(&before, &after))
            && !event.details.is_empty()
        {
            insert_event(&txn, &event).await?;
        }
        txn.commit().await.map_err(storage_error)?;
        Ok(AccessUpdate::Updated {
            before: Box::new(before),
            after: Box::new(after),
        })
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
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        let result = user::Entity::update_many()
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            .col_expr(user::Column::UpdatedAt, Expr::value(updated_at))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(storage_error)?;
        record_if_changed(txn, result.rows_affected == 1, Some(audit)).await
    }

    async fn delete(&self, id: UserId, audit: &AuditEvent) -> Result<bool, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        let result = user::Entity::delete_by_id(id.0)
            .exec(&txn)
            .await
            .map_err(storage_error)?;
        record_if_changed(txn, result.rows_affected == 1, Some(audit)).await
    }
}

/// Ends the transaction of a one-row change: when the row `changed`, stores
/// `audit` with it and commits; otherwise rolls back, storing nothing.
/// Returns `changed`.
async fn record_if_changed(
    txn: sea_orm::DatabaseTransaction,
    changed: bool,
    audit: Option<&AuditEvent>,
) -> Result<bool, StorageError> {
    if !changed {
        txn.rollback().await.map_err(storage_error)?;
        return Ok(false);
    }
    if let Some(event) = audit {
        insert_event(&txn, event).await?;
    }
    txn.commit().await.map_err(storage_error)?;
    Ok(true)
}
