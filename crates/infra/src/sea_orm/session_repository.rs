use async_trait::async_trait;
use auth_domain::common::{StorageError, TokenHash};
use auth_domain::session::{ClientInfo, Session, SessionId, SessionRepository};
use auth_domain::user::{User, UserId};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait as _};

use super::entities::{session, user};
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
        refresh_token_hash: TokenHash::from_stored(row.refresh_token_hash),
        previous_token_hash: row.previous_token_hash.map(TokenHash::from_stored),
        rotated_at: row.rotated_at,
        client: ClientInfo {
            user_agent: row.user_agent,
            ip: row.ip,
        },
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

fn to_row(session: &Session) -> session::ActiveModel {
    session::ActiveModel {
        id: Set(session.id.0),
        user_id: Set(session.user_id.0),
        refresh_token_hash: Set(session.refresh_token_hash.as_str().to_owned()),
        previous_token_hash: Set(session
            .previous_token_hash
            .as_ref()
            .map(|h| h.as_str().to_owned())),
        rotated_at: Set(session.rotated_at),
        user_agent: Set(session.client.user_agent.clone()),
        ip: Set(session.client.ip.clone()),
        created_at: Set(session.created_at),
        last_used_at: Set(session.last_used_at),
        expires_at: Set(session.expires_at),
        revoked_at: Set(session.revoked_at),
    }
}

#[async_trait]
impl SessionRepository for SeaOrmSessionRepository {
    async fn insert(&self, session: &Session) -> Result<(), StorageError> {
        session::Entity::insert(to_row(session))
            .exec_without_returning(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(())
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
}
