//! The hot read of every authenticated request (with the session cache
//! off, or on a miss): sessions found with their users, many requests'
//! lookups in one statement.
//!
//! Each lookup alone costs a round trip to the database, and its wake-ups,
//! for one indexed row: with many requests at once, the wake-ups bounded
//! authenticated reads. The reader takes every lookup waiting when a batch
//! can start (see `batching`) and finds them all with one statement by
//! primary key, answering each request with its own session. A lookup
//! still sees everything committed before it was asked: its batch starts
//! after it is queued.

use std::collections::HashMap;
use std::sync::Arc;

use auth_domain::common::StorageError;
use auth_domain::session::{Session, SessionId};
use auth_domain::user::User;
use sea_orm::sqlx::{self, PgPool, SqlitePool};
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, QueryResult, RuntimeErr};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::batching::{self, Admit};
use super::error::storage_error;
use super::session_repository::{session_and_user, session_and_user_columns};

/// The most lookups answered by one statement.
const MAX_BATCH: usize = 64;

/// Batches in flight at once.
const IN_FLIGHT: u32 = 2;

/// How the reader's connections name themselves to PostgreSQL.
const READER_APPLICATION_NAME: &str = "authd-reads";

/// What a lookup answers: the session and its user, or `None`.
type Outcome = Result<Option<(Session, User)>, StorageError>;

/// One request's lookup, and where its answer goes.
struct Job {
    id: SessionId,
    reply: oneshot::Sender<Outcome>,
}

/// The handle of the reader thread; it stops when the last handle goes.
#[derive(Debug, Clone)]
pub(crate) struct SessionReader {
    jobs: mpsc::Sender<Job>,
}

/// Where lookups run.
enum Store {
    /// The main pool (readers run beside the writer in WAL mode).
    Sqlite(SqlitePool),
    /// A pool of [`IN_FLIGHT`] connections of the reader's own.
    Postgres(PgPool),
}

impl SessionReader {
    /// Starts the reader of `db` on a thread of its own; on PostgreSQL it
    /// opens (when first needed) a pool of its own with the main pool's
    /// settings.
    pub(crate) fn start(db: DatabaseConnection) -> Self {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        batching::spawn_thread("session-reads", move || async move {
            let store = Arc::new(if db.get_database_backend() == DatabaseBackend::Postgres {
                Store::Postgres(batching::own_postgres_pool(
                    &db,
                    IN_FLIGHT,
                    READER_APPLICATION_NAME,
                    &[],
                ))
            } else {
                Store::Sqlite(db.get_sqlite_connection_pool().clone())
            });
            let answering = Arc::clone(&store);
            batching::run(queue, IN_FLIGHT, MAX_BATCH, admit, move |batch| {
                let store = Arc::clone(&answering);
                async move { answer(&store, batch).await }
            })
            .await;
            if let Store::Postgres(pool) = &*store {
                pool.close().await;
            }
        });
        Self { jobs }
    }

    /// The session `id` with its user (see
    /// [`auth_domain::session::SessionRepository::find_with_user`]).
    pub(crate) async fn find(&self, id: SessionId) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        if self.jobs.send(Job { id, reply }).await.is_err() {
            return Err(stopped());
        }
        outcome.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StorageError {
    StorageError::Unexpected(anyhow::anyhow!("the session reader stopped"))
}

fn failed_query(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

/// Every lookup whose request still waits.
fn admit(job: &Job, _batch: &[Job]) -> Admit {
    if job.reply.is_closed() {
        Admit::Drop
    } else {
        Admit::Take
    }
}

/// Finds the batch's sessions and answers each job; when the statement
/// fails, each job is tried alone, so that it fails with its own error
/// (an unreachable database stays `Unavailable`, a 503).
async fn answer(store: &Store, batch: Vec<Job>) {
    let mut ids: Vec<Uuid> = batch.iter().map(|job| job.id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    match find(store, &ids).await {
        Ok(found) => {
            for job in batch {
                let outcome = match found.get(&job.id.0) {
                    Some(Ok(pair)) => Ok(Some(pair.clone())),
                    Some(Err(error)) => Err(StorageError::Unexpected(anyhow::anyhow!(
                        "a stored session or user is invalid: {error}"
                    ))),
                    None => Ok(None),
                };
                job.reply.send(outcome).ok();
            }
        }
        Err(_) => {
            for job in batch {
                let outcome = find(store, &[job.id.0])
                    .await
                    .map_err(storage_error)
                    .and_then(|mut found| found.remove(&job.id.0).transpose());
                job.reply.send(outcome).ok();
            }
        }
    }
}

/// The sessions among `ids`, each with its user, by id: one statement.
static FIND_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ANY ($1::uuid[])",
        session_and_user_columns()
    )
});

/// The same on SQLite, `$1` a JSON array of the ids in hex.
static FIND_SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id IN (SELECT unhex(value) FROM json_each($1))",
        session_and_user_columns()
    )
});

/// Finds the sessions `ids` with their users.
async fn find(
    store: &Store,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Result<(Session, User), StorageError>>, DbErr> {
    let rows: Vec<QueryResult> = match store {
        Store::Postgres(pool) => {
            let mut conn = pool.acquire().await.map_err(batching::unreachable)?;
            sqlx::query(FIND_POSTGRES.as_str())
                .bind(ids)
                .fetch_all(&mut *conn)
                .await
                .map_err(failed_query)?
                .into_iter()
                .map(QueryResult::from)
                .collect()
        }
        Store::Sqlite(pool) => {
            let mut conn = pool.acquire().await.map_err(batching::unreachable)?;
            let hex: Vec<String> = ids.iter().map(|id| id.simple().to_string()).collect();
            sqlx::query(FIND_SQLITE.as_str())
                .bind(serde_json::Value::from(hex).to_string())
                .fetch_all(&mut *conn)
                .await
                .map_err(failed_query)?
                .into_iter()
                .map(QueryResult::from)
                .collect()
        }
    };
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let pair = session_and_user(&row);
        let id: Uuid = match &pair {
            Ok((session, _)) => session.id.0,
            Err(_) => row.try_get("", "s_id")?,
        };
        found.insert(id, pair);
    }
    Ok(found)
}
