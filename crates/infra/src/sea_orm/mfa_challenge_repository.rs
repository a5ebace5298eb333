use async_trait::async_trait;
use auth_domain::common::{StorageError, TokenHash};
use auth_domain::mfa::{MfaChallenge, MfaChallengeRepository};
use auth_domain::user::UserId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _,
};
use uuid::Uuid;

use super::entities::mfa_challenge;
use super::error::storage_error;

/// [`MfaChallengeRepository`] on SeaORM.
#[derive(Debug, Clone)]
pub struct SeaOrmMfaChallengeRepository {
    db: DatabaseConnection,
}

impl SeaOrmMfaChallengeRepository {
    /// A repository on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl MfaChallengeRepository for SeaOrmMfaChallengeRepository {
    async fn insert(&self, challenge: &MfaChallenge) -> Result<(), StorageError> {
        mfa_challenge::Entity::insert(mfa_challenge::ActiveModel {
            id: Set(challenge.id),
            user_id: Set(challenge.user_id.0),
            token_hash: Set(challenge.hash.as_str().to_owned()),
            created_at: Set(challenge.created_at),
            expires_at: Set(challenge.expires_at),
            used_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn find_valid(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<MfaChallenge>, StorageError> {
        Ok(mfa_challenge::Entity::find()
            .filter(mfa_challenge::Column::TokenHash.eq(hash.as_str()))
            .filter(mfa_challenge::Column::UsedAt.is_null())
            .filter(mfa_challenge::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(storage_error)?
            .map(|row| MfaChallenge {
                id: row.id,
                user_id: UserId(row.user_id),
                hash: TokenHash::from_stored(row.token_hash),
                created_at: row.created_at,
                expires_at: row.expires_at,
            }))
    }

    async fn consume(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let result = mfa_challenge::Entity::update_many()
            .col_expr(mfa_challenge::Column::UsedAt, Expr::value(now))
            .filter(mfa_challenge::Column::Id.eq(id))
            .filter(mfa_challenge::Column::UsedAt.is_null())
            .filter(mfa_challenge::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn release(&self, id: Uuid) -> Result<(), StorageError> {
        mfa_challenge::Entity::update_many()
            .col_expr(
                mfa_challenge::Column::UsedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(mfa_challenge::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let result = mfa_challenge::Entity::delete_many()
            .filter(mfa_challenge::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected)
    }
}
