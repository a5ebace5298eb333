use async_trait::async_trait;
use auth_domain::common::{StorageError, TokenHash};
use auth_domain::recovery::{ActionToken, ActionTokenRepository, TokenPurpose};
use auth_domain::user::UserId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseConnection, EntityTrait as _,
    QueryFilter as _, TransactionTrait as _,
};
use uuid::Uuid;

use super::entities::action_token;
use super::error::storage_error;

/// [`ActionTokenRepository`] on SeaORM.
#[derive(Debug, Clone)]
pub struct SeaOrmActionTokenRepository {
    db: DatabaseConnection,
}

impl SeaOrmActionTokenRepository {
    /// A repository on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Marks the user's unused tokens for `purpose` used at `now`.
pub(super) async fn invalidate(
    db: &impl ConnectionTrait,
    user: UserId,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let result = action_token::Entity::update_many()
        .col_expr(action_token::Column::UsedAt, Expr::value(now))
        .filter(action_token::Column::UserId.eq(user.0))
        .filter(action_token::Column::Purpose.eq(purpose.as_str()))
        .filter(action_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[async_trait]
impl ActionTokenRepository for SeaOrmActionTokenRepository {
    async fn insert(&self, token: &ActionToken) -> Result<(), StorageError> {
        let row = action_token::ActiveModel {
            id: Set(token.id),
            user_id: Set(token.user_id.0),
            purpose: Set(token.purpose.as_str().to_owned()),
            token_hash: Set(token.hash.as_str().to_owned()),
            created_at: Set(token.created_at),
            expires_at: Set(token.expires_at),
            used_at: Set(None),
        };
        let txn = self.db.begin().await.map_err(storage_error)?;
        invalidate(&txn, token.user_id, token.purpose, token.created_at)
            .await
            .map_err(storage_error)?;
        action_token::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(storage_error)?;
        txn.commit().await.map_err(storage_error)
    }

    async fn invalidate(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        invalidate(&self.db, user, purpose, now)
            .await
            .map_err(storage_error)
    }

    async fn find_valid(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<ActionToken>, StorageError> {
        Ok(action_token::Entity::find()
            .filter(action_token::Column::TokenHash.eq(hash.as_str()))
            .filter(action_token::Column::Purpose.eq(purpose.as_str()))
            .filter(action_token::Column::UsedAt.is_null())
            .filter(action_token::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(storage_error)?
            .map(|row| ActionToken {
                id: row.id,
                user_id: UserId(row.user_id),
                purpose,
                hash: TokenHash::from_stored(row.token_hash),
                created_at: row.created_at,
                expires_at: row.expires_at,
            }))
    }

    async fn consume(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let result = action_token::Entity::update_many()
            .col_expr(action_token::Column::UsedAt, Expr::value(now))
            .filter(action_token::Column::Id.eq(id))
            .filter(action_token::Column::UsedAt.is_null())
            .filter(action_token::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let result = action_token::Entity::delete_many()
            .filter(action_token::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected)
    }
}
