use std::sync::Arc;

use async_trait::async_trait;
use auth_domain::common::{Clock, StorageError};
use auth_domain::mail::{MailError, Mailer, OutgoingMail};
use auth_domain::user::Email;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement, Value};
use tokio::sync::Notify;
use uuid::Uuid;

use super::error::storage_error;

/// The longest error text kept on a row: enough for an SMTP reply.
const MAX_ERROR_CHARS: usize = 500;

/// The `mail_outbox` table, and the [`Mailer`] that queues into it.
///
/// `send` inserts one `pending` row and wakes the worker of this process
/// ([`crate::outbox::OutboxWorker`]), so a request answers as usual however
/// the mail server is doing. The worker claims due rows with one atomic
/// `UPDATE … RETURNING` that sets a lease (`claimed_until`), on PostgreSQL
/// with `FOR UPDATE SKIP LOCKED`, so concurrent workers of any number of
/// instances never claim one row twice; it then marks each row `sent` or
/// reschedules it, or marks it `dead`, clearing the body in both final
/// states.
#[derive(Clone)]
pub struct SeaOrmMailOutbox {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for SeaOrmMailOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaOrmMailOutbox").finish_non_exhaustive()
    }
}

/// A claimed message, with the number of its attempt now under way (1 for
/// the first).
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    /// The row.
    pub id: Uuid,
    /// The message.
    pub mail: OutgoingMail,
    /// Attempts so far, this one included.
    pub attempt: u32,
}

impl SeaOrmMailOutbox {
    /// The outbox on `db`, stamping rows with `clock`.
    #[must_use]
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Notified on every queued message.
    #[must_use]
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The time the outbox reads.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// `$n` placeholders for PostgreSQL, `?n` for SQLite.
    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Sqlite => sql.replace('$', "?"),
            _ => sql.to_owned(),
        };
        Statement::from_sql_and_values(backend, sql, values)
    }

    /// Claims up to `limit` pending rows due at `now` whose lease (if any)
    /// has run out, leasing them until `lease_until` and counting the
    /// attempt.
    ///
    /// # Errors
    /// [`StorageError`] when the database fails.
    pub async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, StorageError> {
        // SQLite runs one writer at a time, and an UPDATE takes the write
        // lock before it reads, so its claim is atomic as is.
        let skip_locked = match self.db.get_database_backend() {
            DatabaseBackend::Postgres => " FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let statement = self.statement(
            &format!(
                "UPDATE mail_outbox SET attempts = attempts + 1, claimed_until = $1 \
                 WHERE id IN ( \
                   SELECT id FROM mail_outbox \
                   WHERE status = 'pending' AND due_at <= $2 \
                     AND (claimed_until IS NULL OR claimed_until <= $2) \
                   ORDER BY due_at LIMIT $3{skip_locked}) \
                 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= $2) \
                 RETURNING id, recipient, subject, body, attempts"
            ),
            vec![lease_until.into(), now.into(), i64::from(limit).into()],
        );
        let rows = self
            .db
            .query_all_raw(statement)
            .await
            .map_err(storage_error)?;
        rows.into_iter()
            .map(|row| {
                let attempts: i32 = row.try_get("", "attempts").map_err(storage_error)?;
                let body: Option<String> = row.try_get("", "body").map_err(storage_error)?;
                Ok(ClaimedMail {
                    id: row.try_get("", "id").map_err(storage_error)?,
                    mail: OutgoingMail {
                        to: Email::from_trusted(
                            row.try_get("", "recipient").map_err(storage_error)?,
                        ),
                        subject: row.try_get("", "subject").map_err(storage_error)?,
                        text: body.unwrap_or_default(),
                    },
                    attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Marks a claimed row sent and forgets its body.
    ///
    /// # Errors
    /// [`StorageError`] when the database fails.
    pub async fn mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
        let statement = self.statement(
            "UPDATE mail_outbox SET status = 'sent', body = NULL, claimed_until = NULL, \
             last_error = NULL, finished_at = $2 WHERE id = $1",
            vec![id.into(), now.into()],
        );
        self.db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Releases a claimed row for another attempt at `due_at`.
    ///
    /// # Errors
    /// [`StorageError`] when the database fails.
    pub async fn reschedule(
        &self,
        id: Uuid,
        due_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StorageError> {
        let statement = self.statement(
            "UPDATE mail_outbox SET due_at = $2, claimed_until = NULL, last_error = $3 \
             WHERE id = $1 AND status = 'pending'",
            vec![id.into(), due_at.into(), truncated(error).into()],
        );
        self.db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Gives a claimed row up: `dead`, without its body.
    ///
    /// # Errors
    /// [`StorageError`] when the database fails.
    pub async fn mark_dead(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StorageError> {
        let statement = self.statement(
            "UPDATE mail_outbox SET status = 'dead', body = NULL, claimed_until = NULL, \
             last_error = $3, finished_at = $2 WHERE id = $1",
            vec![id.into(), now.into(), truncated(error).into()],
        );
        self.db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Deletes the sent and dead rows finished before `before`; returns
    /// how many.
    ///
    /// # Errors
    /// [`StorageError`] when the database fails.
    pub async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let statement = self.statement(
            "DELETE FROM mail_outbox WHERE status <> 'pending' AND finished_at < $1",
            vec![before.into()],
        );
        Ok(self
            .db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?
            .rows_affected())
    }
}

fn truncated(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

#[async_trait]
impl Mailer for SeaOrmMailOutbox {
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let now = self.clock.now();
        let statement = self.statement(
            "INSERT INTO mail_outbox \
               (id, recipient, subject, body, status, attempts, due_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            vec![
                Uuid::now_v7().into(),
                mail.to.as_str().into(),
                mail.subject.into(),
                mail.text.into(),
                now.into(),
            ],
        );
        self.db
            .execute_raw(statement)
            .await
            .map_err(|error| MailError(error.into()))?;
        self.wake.notify_one();
        Ok(())
    }
}
