use async_trait::async_trait;
use auth_domain::common::{StorageError, TokenHash};
use auth_domain::session::{
    AuthMethods, ClientInfo, RefreshToken, RefreshTokenId, Session, SessionId, SessionRepository,
};
use auth_domain::user::{User, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, TransactionTrait as _,
    sea_query::ExprTrait as _,
};

use super::entities::{refresh_token, session, user};
use super::error::storage_error;
use super::user_repository;

/// [`SessionRepository`] on SeaORM.
#[derive(Debug, Clone)]
pub struct SeaOrmSessionRepository {
    db: DatabaseConnection,
}

impl SeaOrmSessionRepository {
    /// A repository on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_domain(row: session::Model) -> Session {
    Session {
        id: SessionId(row.id),
        user_id: UserId(row.user_id),
        client: ClientInfo {
            user_agent: row.user_agent,
            ip: row.ip,
        },
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        // An unknown stored value grants no more than a password did.
        amr: AuthMethods::from_stored(&row.amr).unwrap_or_default(),
    }
}

fn token_to_domain(row: refresh_token::Model) -> RefreshToken {
    RefreshToken {
        id: RefreshTokenId(row.id),
        session_id: SessionId(row.session_id),
        hash: TokenHash::from_stored(row.token_hash),
        created_at: row.created_at,
        expires_at: row.expires_at,
        rotated_at: row.rotated_at,
    }
}

fn token_row(token: &RefreshToken) -> refresh_token::ActiveModel {
    refresh_token::ActiveModel {
        id: Set(token.id.0),
        session_id: Set(token.session_id.0),
        token_hash: Set(token.hash.as_str().to_owned()),
        created_at: Set(token.created_at),
        expires_at: Set(token.expires_at),
        rotated_at: Set(token.rotated_at),
    }
}

/// Extends an unrevoked session to `expires_at`; `false` (nothing written)
/// when the session is revoked or gone. Run first in every transaction that
/// changes a session's tokens: on PostgreSQL the update locks the session
/// row, so such transactions on one session run one after the other and
/// each statement after it sees what the previous one committed; SQLite
/// serialises writers anyway.
async fn lock_and_extend(
    db: &impl ConnectionTrait,
    token: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let extended = session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .col_expr(session::Column::ExpiresAt, Expr::value(token.expires_at))
        .filter(session::Column::Id.eq(token.session_id.0))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(extended.rows_affected == 1)
}

/// Commits `txn` when `done`, rolls it back otherwise; returns `done`.
async fn finish(txn: DatabaseTransaction, done: bool) -> Result<bool, StorageError> {
    if done {
        txn.commit().await.map_err(storage_error)?;
    } else {
        txn.rollback().await.map_err(storage_error)?;
    }
    Ok(done)
}

/// Marks `used` rotated at `now` if nobody did yet, and stores `replacement`.
async fn compare_and_rotate(
    txn: &DatabaseTransaction,
    used: RefreshTokenId,
    replacement: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    if !lock_and_extend(txn, replacement, now).await? {
        return Ok(false);
    }
    // The compare-and-set, after the session lock: of concurrent rotations
    // of one token exactly one sees `rotated_at IS NULL`.
    let rotated = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(used.0))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .exec(txn)
        .await?;
    if rotated.rows_affected != 1 {
        return Ok(false);
    }
    refresh_token::Entity::insert(token_row(replacement))
        .exec_without_returning(txn)
        .await?;
    Ok(true)
}

/// Marks every live token of the session rotated at `now` and stores
/// `replacement` as its one live token.
async fn supersede_all(
    txn: &DatabaseTransaction,
    replacement: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    if !lock_and_extend(txn, replacement, now).await? {
        return Ok(false);
    }
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::SessionId.eq(replacement.session_id.0))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .exec(txn)
        .await?;
    refresh_token::Entity::insert(token_row(replacement))
        .exec_without_returning(txn)
        .await?;
    Ok(true)
}

#[async_trait]
impl SessionRepository for SeaOrmSessionRepository {
    async fn insert(&self, session: &Session, token: &RefreshToken) -> Result<(), StorageError> {
        let row = session::ActiveModel {
            id: Set(session.id.0),
            user_id: Set(session.user_id.0),
            user_agent: Set(session.client.user_agent.clone()),
            ip: Set(session.client.ip.clone()),
            created_at: Set(session.created_at),
            last_used_at: Set(session.last_used_at),
            expires_at: Set(session.expires_at),
            revoked_at: Set(session.revoked_at),
            amr: Set(session.amr.as_str().to_owned()),
        };
        let txn = self.db.begin().await.map_err(storage_error)?;
        session::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(storage_error)?;
        refresh_token::Entity::insert(token_row(token))
            .exec_without_returning(&txn)
            .await
            .map_err(storage_error)?;
        txn.commit().await.map_err(storage_error)
    }

    async fn find_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StorageError> {
        let found = session::Entity::find_by_id(id.0)
            .find_also_related(user::Entity)
            .one(&self.db)
            .await
            .map_err(storage_error)?;
        match found {
            Some((session, Some(user))) => Ok(Some((
                to_domain(session),
                user_repository::to_domain(user)?,
            ))),
            _ => Ok(None),
        }
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(RefreshToken, Session, User)>, StorageError> {
        let found = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
            .find_also_related(session::Entity)
            .one(&self.db)
            .await
            .map_err(storage_error)?;
        let Some((token, Some(session))) = found else {
            return Ok(None);
        };
        let Some(user) = user::Entity::find_by_id(session.user_id)
            .one(&self.db)
            .await
            .map_err(storage_error)?
        else {
            return Ok(None);
        };
        Ok(Some((
            token_to_domain(token),
            to_domain(session),
            user_repository::to_domain(user)?,
        )))
    }

    async fn rotate(
        &self,
        used: RefreshTokenId,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        let done = compare_and_rotate(&txn, used, replacement, now)
            .await
            .map_err(storage_error)?;
        finish(txn, done).await
    }

    async fn supersede(
        &self,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        let done = supersede_all(&txn, replacement, now)
            .await
            .map_err(storage_error)?;
        finish(txn, done).await
    }

    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now))
            .filter(session::Column::Id.eq(id.0))
            .filter(session::Column::UserId.eq(user.0))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke_all(&self, user: UserId, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now))
            .filter(session::Column::UserId.eq(user.0))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected)
    }

    async fn revoke_all_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(now))
            .filter(session::Column::UserId.eq(user.0))
            .filter(session::Column::Id.ne(keep.0))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected)
    }

    async fn list_live(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StorageError> {
        Ok(session::Entity::find()
            .filter(session::Column::UserId.eq(user.0))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::CreatedAt)
            .order_by_desc(session::Column::Id)
            .all(&self.db)
            .await
            .map_err(storage_error)?
            .into_iter()
            .map(to_domain)
            .collect())
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        let sessions = session::Entity::delete_many()
            .filter(
                session::Column::ExpiresAt
                    .lte(now)
                    .or(session::Column::RevokedAt.is_not_null()),
            )
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(sessions.rows_affected)
    }
}
