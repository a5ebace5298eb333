use async_trait::async_trait;
use auth_domain::audit::AuditEvent;
use auth_domain::common::{StorageError, TokenHash};
use auth_domain::mfa::{FactorState, SealedSecret, SecondFactor, SecondFactorRepository};
use auth_domain::user::UserId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, EntityTrait as _, QueryFilter as _, Statement, TransactionTrait as _,
};
use uuid::Uuid;

use super::audit_log::insert_event;
use super::entities::{mfa_factor, mfa_recovery_code, user};
use super::error::storage_error;

/// [`SecondFactorRepository`] on SeaORM. Every answer comes from the rows a
/// conditional write affected, never from a read before the write.
#[derive(Debug, Clone)]
pub struct SeaOrmSecondFactorRepository {
    db: DatabaseConnection,
}

impl SeaOrmSecondFactorRepository {
    /// A repository on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Steps are counts of 30 s since 1970: far inside `i64`.
fn step_value(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

fn to_domain(row: mfa_factor::Model) -> SecondFactor {
    SecondFactor {
        user_id: UserId(row.user_id),
        secret: SealedSecret::from_stored(row.secret),
        state: if row.enabled_at.is_some() {
            FactorState::Enabled
        } else {
            FactorState::Pending
        },
        last_step: row.last_step.and_then(|s| u64::try_from(s).ok()),
        created_at: row.created_at,
    }
}

/// Makes `codes` the user's only recovery codes.
async fn store_codes(
    db: &impl ConnectionTrait,
    user: UserId,
    codes: &[TokenHash],
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::UserId.eq(user.0))
        .exec(db)
        .await?;
    if codes.is_empty() {
        return Ok(());
    }
    mfa_recovery_code::Entity::insert_many(codes.iter().map(|hash| {
        mfa_recovery_code::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.0),
            code_hash: Set(hash.as_str().to_owned()),
            created_at: Set(now),
            used_at: Set(None),
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn mark_user(
    db: &impl ConnectionTrait,
    user: UserId,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::MfaEnabled, Expr::value(enabled))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user.0))
        .exec(db)
        .await?;
    Ok(())
}

#[async_trait]
impl SecondFactorRepository for SeaOrmSecondFactorRepository {
    async fn find(&self, user: UserId) -> Result<Option<SecondFactor>, StorageError> {
        Ok(mfa_factor::Entity::find_by_id(user.0)
            .one(&self.db)
            .await
            .map_err(storage_error)?
            .map(to_domain))
    }

    async fn start_enrolment(
        &self,
        user: UserId,
        secret: &SealedSecret,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let backend = self.db.get_database_backend();
        let sql = "INSERT INTO mfa_factors (user_id, secret, enabled_at, last_step, created_at) \
                   VALUES ($1, $2, NULL, NULL, $3) \
                   ON CONFLICT (user_id) DO UPDATE SET \
                     secret = excluded.secret, last_step = NULL, created_at = excluded.created_at \
                   WHERE mfa_factors.enabled_at IS NULL";
        let sql = match backend {
            DatabaseBackend::Sqlite => sql.replace('$', "?"),
            _ => sql.to_owned(),
        };
        let result = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                vec![user.0.into(), secret.as_str().into(), now.into()],
            ))
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected() == 1)
    }

    async fn enable(
        &self,
        user: UserId,
        secret: &SealedSecret,
        step: u64,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        // The conditional update comes first: it takes the row's lock (the
        // database's write lock on SQLite), so of racing confirmations one
        // turns the factor on and the others find it on and change nothing.
        let enabled = mfa_factor::Entity::update_many()
            .col_expr(mfa_factor::Column::EnabledAt, Expr::value(now))
            .col_expr(mfa_factor::Column::LastStep, Expr::value(step_value(step)))
            .filter(mfa_factor::Column::UserId.eq(user.0))
            .filter(mfa_factor::Column::EnabledAt.is_null())
            .filter(mfa_factor::Column::Secret.eq(secret.as_str()))
            .exec(&txn)
            .await
            .map_err(storage_error)?;
        if enabled.rows_affected != 1 {
            txn.rollback().await.map_err(storage_error)?;
            return Ok(false);
        }
        store_codes(&txn, user, recovery_codes, now)
            .await
            .map_err(storage_error)?;
        mark_user(&txn, user, true, now)
            .await
            .map_err(storage_error)?;
        insert_event(&txn, audit).await?;
        txn.commit().await.map_err(storage_error)?;
        Ok(true)
    }

    async fn accept_step(&self, user: UserId, step: u64) -> Result<bool, StorageError> {
        let step = step_value(step);
        let result = mfa_factor::Entity::update_many()
            .col_expr(mfa_factor::Column::LastStep, Expr::value(step))
            .filter(mfa_factor::Column::UserId.eq(user.0))
            .filter(mfa_factor::Column::EnabledAt.is_not_null())
            .filter(
                Condition::any()
                    .add(mfa_factor::Column::LastStep.is_null())
                    .add(mfa_factor::Column::LastStep.lt(step)),
            )
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn consume_recovery_code(
        &self,
        user: UserId,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let result = mfa_recovery_code::Entity::update_many()
            .col_expr(mfa_recovery_code::Column::UsedAt, Expr::value(now))
            .filter(mfa_recovery_code::Column::UserId.eq(user.0))
            .filter(mfa_recovery_code::Column::CodeHash.eq(hash.as_str()))
            .filter(mfa_recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected == 1)
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        // A no-op write on the enabled factor: locks it against a
        // concurrent removal, and says whether it is on.
        let locked = mfa_factor::Entity::update_many()
            .col_expr(
                mfa_factor::Column::CreatedAt,
                Expr::col(mfa_factor::Column::CreatedAt),
            )
            .filter(mfa_factor::Column::UserId.eq(user.0))
            .filter(mfa_factor::Column::EnabledAt.is_not_null())
            .exec(&txn)
            .await
            .map_err(storage_error)?;
        if locked.rows_affected != 1 {
            txn.rollback().await.map_err(storage_error)?;
            return Ok(false);
        }
        store_codes(&txn, user, recovery_codes, now)
            .await
            .map_err(storage_error)?;
        insert_event(&txn, audit).await?;
        txn.commit().await.map_err(storage_error)?;
        Ok(true)
    }

    async fn disable(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let txn = self.db.begin().await.map_err(storage_error)?;
        let enabled = mfa_factor::Entity::delete_many()
            .filter(mfa_factor::Column::UserId.eq(user.0))
            .filter(mfa_factor::Column::EnabledAt.is_not_null())
            .exec(&txn)
            .await
            .map_err(storage_error)?
            .rows_affected
            == 1;
        if !enabled {
            // Dropping the transaction rolls it back: a pending enrolment,
            // if any, stays.
            return Ok(false);
        }
        store_codes(&txn, user, &[], now)
            .await
            .map_err(storage_error)?;
        mark_user(&txn, user, false, now)
            .await
            .map_err(storage_error)?;
        insert_event(&txn, audit).await?;
        txn.commit().await.map_err(storage_error)?;
        Ok(true)
    }

    async fn any_enabled(&self) -> Result<bool, StorageError> {
        Ok(user::Entity::find()
            .filter(user::Column::MfaEnabled.eq(true))
            .one(&self.db)
            .await
            .map_err(storage_error)?
            .is_some())
    }
}
