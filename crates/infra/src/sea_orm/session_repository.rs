use async_trait::async_trait;
use auth_domain::audit::AuditEvent;
use auth_domain::common::{StorageError, TokenHash};
use auth_domain::session::{
    AuthMethods, ClientInfo, RefreshToken, RefreshTokenDraft, RefreshTokenId, Session, SessionId,
    SessionRepository,
};
use auth_domain::user::{User, UserId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;

use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait as _, FromQueryResult as _, IdenStatic as _, Iterable as _,
    QueryFilter as _, QueryOrder as _, QueryResult, Statement, TransactionTrait as _,
    sea_query::ExprTrait as _,
};

use super::entities::{refresh_token, session, user};
use super::error::storage_error;
use super::rotation_writer::RotationWriter;
use super::session_reader::SessionReader;
use super::user_repository;
use super::write_gate::WriteGate;
use super::{audit_log, one_statement};

/// [`SessionRepository`] on SeaORM.
#[derive(Debug, Clone)]
pub struct SeaOrmSessionRepository {
    db: DatabaseConnection,
    writes: WriteGate,
    /// The writer of refreshes' rotations (the hot path).
    rotations: RotationWriter,
    /// The reader of sessions with their users (the hot read).
    reads: SessionReader,
}

impl SeaOrmSessionRepository {
    /// A repository on `db`.
    #[must_use]
    /// This starts the writer thread of refreshes (see `rotation_writer`)
    /// and the reader thread of sessions (see `session_reader`), which on
    /// PostgreSQL open pools of a few connections of their own; they stop
    /// when the last clone of the repository is dropped.
    pub fn new(db: DatabaseConnection) -> Self {
        let writes = WriteGate::for_connection(&db);
        let rotations = RotationWriter::start(db.clone(), writes.clone());
        let reads = SessionReader::start(db.clone());
        Self {
            writes,
            rotations,
            reads,
            db,
        }
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

/// A new session, `$1`–`$9`.
const INSERT_SESSION: &str = "INSERT INTO sessions \
    (id, user_id, user_agent, ip, created_at, last_used_at, expires_at, revoked_at, amr) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Its first refresh token, `$10`–`$13` (the rest of a `SELECT`).
const INSERT_TOKEN: &str = "INSERT INTO refresh_tokens \
    (id, session_id, token_hash, created_at, expires_at, rotated_at) \
    SELECT $10, $1, $11, $12, $13, NULL";

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

/// Marks `used` rotated at `now` if nobody did yet, stores `replacement` and
/// extends the session, unless it is revoked; on PostgreSQL, as one
/// statement: one round trip and one commit. It locks the session row
/// first (the token update reads the lock's result, so it cannot run
/// before it), the same order as every other write to a session's tokens;
/// the compare-and-set is an `UPDATE ... WHERE rotated_at IS NULL`, which
/// PostgreSQL re-checks against the newest row version after waiting for a
/// lock, so of racing rotations exactly one matches. The replacement and
/// the extension read the compare-and-set's result: a loser changes nothing.
async fn rotate_in_one_statement(
    db: &DatabaseConnection,
    used: RefreshTokenId,
    replacement: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "WITH locked AS ( \
           SELECT id FROM sessions WHERE id = $3 AND revoked_at IS NULL FOR UPDATE \
         ), rotated AS ( \
           UPDATE refresh_tokens SET rotated_at = $1 \
           WHERE id = $4 AND rotated_at IS NULL AND session_id IN (SELECT id FROM locked) \
           RETURNING session_id \
         ), extended AS ( \
           UPDATE sessions SET last_used_at = $1, expires_at = $2 \
           WHERE id IN (SELECT session_id FROM rotated) \
         ) \
         INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at, rotated_at) \
         SELECT $5, session_id, $6, $7, $2, NULL FROM rotated",
        rotation_values(used, replacement, now),
    );
    Ok(db.execute_raw(statement).await?.rows_affected() == 1)
}

/// The same rotation on SQLite, as three statements sent at once, each
/// running only if the one before it changed a row: the compare-and-set
/// (the token is unrotated and its session unrevoked), the replacement, the
/// session's extension. Inside `txn`, under the write gate: one round trip
/// to the database thread instead of three.
async fn rotate_in_one_round_trip(
    txn: &DatabaseTransaction,
    used: RefreshTokenId,
    replacement: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "UPDATE refresh_tokens SET rotated_at = $1 \
         WHERE id = $4 AND rotated_at IS NULL AND session_id = $3 AND EXISTS ( \
           SELECT 1 FROM sessions WHERE id = $3 AND revoked_at IS NULL); \
         INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at, rotated_at) \
         SELECT $5, $3, $6, $7, $2, NULL WHERE changes() = 1; \
         UPDATE sessions SET last_used_at = $1, expires_at = $2 WHERE id = $3 AND changes() = 1",
        rotation_values(used, replacement, now),
    );
    // Rows changed, summed over the three statements: 3 or none.
    Ok(txn.execute_raw(statement).await?.rows_affected() == 3)
}

/// The values of the rotation statements: `$1` now, `$2` the new expiry,
/// `$3` the session, `$4` the used token, `$5`–`$7` the replacement.
fn rotation_values(
    used: RefreshTokenId,
    replacement: &RefreshToken,
    now: DateTime<Utc>,
) -> [sea_orm::Value; 7] {
    [
        now.into(),
        replacement.expires_at.into(),
        replacement.session_id.0.into(),
        used.0.into(),
        replacement.id.0.into(),
        replacement.hash.as_str().into(),
        replacement.created_at.into(),
    ]
}

/// The columns of a session (`s`, as `s_*`) and its user (`u`, as `u_*`),
/// read back with [`session_and_user`].
pub(super) fn session_and_user_columns() -> String {
    session::Column::iter()
        .map(|column| format!("s.{0} AS s_{0}", column.as_str()))
        .chain(user::Column::iter().map(|column| format!("u.{0} AS u_{0}", column.as_str())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row of [`session_and_user_columns`].
pub(super) fn session_and_user(row: &QueryResult) -> Result<(Session, User), StorageError> {
    let session = session::Model::from_query_result(row, "s_").map_err(storage_error)?;
    let user = user::Model::from_query_result(row, "u_").map_err(storage_error)?;
    Ok((to_domain(session), user_repository::to_domain(user)?))
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
    async fn insert<'a>(
        &self,
        session: &Session,
        token: &RefreshToken,
        event: Option<&'a AuditEvent>,
    ) -> Result<(), StorageError> {
        let mut values = vec![
            session.id.0.into(),
            session.user_id.0.into(),
            session.client.user_agent.clone().into(),
            session.client.ip.clone().into(),
            session.created_at.into(),
            session.last_used_at.into(),
            session.expires_at.into(),
            session.revoked_at.into(),
            session.amr.as_str().into(),
            token.id.0.into(),
            token.hash.as_str().into(),
            token.created_at.into(),
            token.expires_at.into(),
        ];
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            // One statement, so one round trip and one commit: a statement
            // is atomic on its own.
            let recorded = match event {
                Some(event) => {
                    let (sql, event_values) =
                        one_statement::after(&audit_log::event_insert(event), values.len());
                    values.extend(event_values);
                    format!("recorded AS ({sql}), ")
                }
                None => String::new(),
            };
            let statement = Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                format!(
                    "WITH {recorded}opened AS ({INSERT_SESSION} RETURNING id) \
                     {INSERT_TOKEN} FROM opened"
                ),
                values,
            );
            self.db
                .execute_raw(statement)
                .await
                .map_err(storage_error)?;
            return Ok(());
        }
        let _writer = self.writes.enter().await;
        let txn = self.db.begin().await.map_err(storage_error)?;
        let statement = Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            format!("{INSERT_SESSION}; {INSERT_TOKEN}"),
            values,
        );
        txn.execute_raw(statement).await.map_err(storage_error)?;
        if let Some(event) = event {
            audit_log::event_insert(event)
                .exec_without_returning(&txn)
                .await
                .map_err(storage_error)?;
        }
        txn.commit().await.map_err(storage_error)
    }

    async fn find_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StorageError> {
        self.reads.find(id).await
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(RefreshToken, Session, User)>, StorageError> {
        // One statement: the token, its session and its user.
        let found = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
            .find_also_related(session::Entity)
            .and_also_related(user::Entity)
            .one(&self.db)
            .await
            .map_err(storage_error)?;
        let Some((token, Some(session), Some(user))) = found else {
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
        if self.db.get_database_backend() == DatabaseBackend::Postgres {
            return rotate_in_one_statement(&self.db, used, replacement, now)
                .await
                .map_err(storage_error);
        }
        let _writer = self.writes.enter().await;
        let txn = self.db.begin().await.map_err(storage_error)?;
        let done = rotate_in_one_round_trip(&txn, used, replacement, now)
            .await
            .map_err(storage_error)?;
        finish(txn, done).await
    }

    async fn rotate_live(
        &self,
        used: &TokenHash,
        replacement: &RefreshTokenDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>, StorageError> {
        self.rotations.rotate_live(used, replacement, now).await
    }

    async fn supersede(
        &self,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let _writer = self.writes.enter().await;
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
        let _writer = self.writes.enter().await;
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
        let _writer = self.writes.enter().await;
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
        let _writer = self.writes.enter().await;
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
        let _writer = self.writes.enter().await;
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
