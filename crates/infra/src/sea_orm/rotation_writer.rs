//! The hot path of refreshes: many requests' rotations committed together.
//!
//! One rotation per transaction pays, for each refresh, everything a
//! transaction costs besides its rows: on SQLite three hand-overs between
//! threads (begin, rotate, commit) with the write lock held, on PostgreSQL
//! a round trip, a statement's start-up and a durable commit (a WAL
//! flush). That, not the rows, bounded refreshes. Here the rotations
//! waiting when a batch can start go into one transaction: one statement
//! (or one batch of statements) and one commit for all of them, each
//! rotation still decided against the newest state of its token and
//! session.
//!
//! SQLite runs one batch at a time (it has one writer anyway). PostgreSQL
//! runs a few at once on connections of their own, so that one batch runs
//! while another waits for its commit and the database's cores all work;
//! each batch locks its sessions in the order of their ids, so batches
//! (of this instance or of others) cannot deadlock one another.

use std::collections::HashMap;
use std::sync::Arc;

use auth_domain::common::{StorageError, TokenHash};
use auth_domain::session::{RefreshTokenDraft, Session};
use auth_domain::user::User;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sqlx::{self, PgPool};
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, QueryResult, RuntimeErr};
use tokio::sync::{mpsc, oneshot};

use super::batching::{self, Admit};
use super::error::storage_error;
use super::write_gate::WriteGate;

/// The most rotations committed together.
const MAX_BATCH: usize = 64;

/// Batches in flight at once on PostgreSQL, each on a connection of its
/// own (the writer's pool, besides the main one).
pub(crate) const POSTGRES_IN_FLIGHT: u32 = 3;

/// How the writer's connections name themselves to PostgreSQL (in
/// `pg_stat_activity`).
const WRITER_APPLICATION_NAME: &str = "authd-rotations";

/// What a rotation answers: the extended session and its user, or `None`.
type Outcome = Result<Option<(Session, User)>, StorageError>;

/// The winners of a committed batch, by slot.
type Winners = HashMap<usize, Result<(Session, User), StorageError>>;

/// One request's rotation, and where its outcome goes.
struct Job {
    used: TokenHash,
    replacement: RefreshTokenDraft,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Outcome>,
}

/// The handle of the writer thread; it stops when the last handle goes.
#[derive(Debug, Clone)]
pub(crate) struct RotationWriter {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Where batches are committed.
enum Store {
    /// The main pool, one batch at a time under the write gate.
    Sqlite {
        db: DatabaseConnection,
        gate: WriteGate,
    },
    /// A pool of [`POSTGRES_IN_FLIGHT`] connections of the writer's own.
    Postgres { pool: PgPool },
}

impl RotationWriter {
    /// Starts the writer of `db` on a thread of its own. On SQLite it
    /// takes the write `gate` for each batch; on PostgreSQL it opens (when
    /// first needed) a pool of its own with the main pool's settings.
    ///
    /// # Panics
    /// When the thread or its runtime cannot be started.
    pub(crate) fn start(db: DatabaseConnection, gate: WriteGate) -> Self {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        batching::spawn_thread("refresh-rotations", move || async move {
            let (store, in_flight) = if db.get_database_backend() == DatabaseBackend::Postgres {
                let pool = batching::own_postgres_pool(
                    &db,
                    POSTGRES_IN_FLIGHT,
                    WRITER_APPLICATION_NAME,
                    // The batch statement's plan depends on the batch and
                    // on the tables: the generic plan PostgreSQL switches
                    // to after five executions went through the
                    // one-live-token index, whose entries pile up between
                    // vacuums, and halved refreshes within a minute.
                    &[("plan_cache_mode", "force_custom_plan")],
                );
                (Arc::new(Store::Postgres { pool }), POSTGRES_IN_FLIGHT)
            } else {
                (Arc::new(Store::Sqlite { db, gate }), 1)
            };
            let settling = Arc::clone(&store);
            batching::run(queue, in_flight, MAX_BATCH, admit, move |batch| {
                let store = Arc::clone(&settling);
                async move { settle(&store, batch).await }
            })
            .await;
            if let Store::Postgres { pool } = &*store {
                pool.close().await;
            }
        });
        Self { jobs }
    }

    /// Rotates the live token with hash `used` (see
    /// [`auth_domain::session::SessionRepository::rotate_live`]).
    pub(crate) async fn rotate_live(
        &self,
        used: &TokenHash,
        replacement: &RefreshTokenDraft,
        now: DateTime<Utc>,
    ) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            used: used.clone(),
            replacement: replacement.clone(),
            now,
            reply,
        };
        if self.jobs.send(job).await.is_err() {
            return Err(stopped());
        }
        outcome.await.map_err(|_| stopped())?
    }
}

fn failed_statement(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(error.into()))
}

fn stopped() -> StorageError {
    StorageError::Unexpected(anyhow::anyhow!("the rotation writer stopped"))
}

/// Commits `batch` and answers each job; when the batch fails, each job
/// is tried alone, so that one bad rotation fails alone.
async fn settle(store: &Store, mut batch: Vec<Job>) {
    match commit(store, &batch).await {
        Ok(mut winners) => {
            for (slot, job) in batch.into_iter().enumerate() {
                let outcome = winners.remove(&slot);
                job.reply.send(outcome.transpose()).ok();
            }
        }
        Err(error) if batch.len() == 1 => {
            if let Some(job) = batch.pop() {
                job.reply.send(Err(storage_error(error))).ok();
            }
        }
        Err(_) => {
            for job in batch {
                let outcome = commit(store, std::slice::from_ref(&job))
                    .await
                    .map_err(storage_error)
                    .and_then(|mut winners| winners.remove(&0).transpose());
                job.reply.send(outcome).ok();
            }
        }
    }
}

/// Admits `job` to `batch`, unless its request is gone or the batch
/// already rotates the same token: then it waits for the next batch, where
/// it meets the first one's rotation.
fn admit(job: &Job, batch: &[Job]) -> Admit {
    if job.reply.is_closed() {
        // Its request is gone: nobody would get the new token.
        Admit::Drop
    } else if batch.iter().any(|queued| queued.used == job.used) {
        Admit::Defer
    } else {
        Admit::Take
    }
}

/// Commits `batch` in one transaction; returns the winners by slot.
async fn commit(store: &Store, batch: &[Job]) -> Result<Winners, DbErr> {
    match store {
        Store::Sqlite { db, gate } => commit_sqlite(db, gate, batch).await,
        Store::Postgres { pool } => commit_postgres(pool, batch).await,
    }
}

/// A row of a batch's answer: its slot, and the session and user.
fn winner(row: QueryResult, winners: &mut Winners) -> Result<(), DbErr> {
    let slot: i64 = row.try_get("", "slot")?;
    if let Ok(slot) = usize::try_from(slot) {
        winners.insert(slot, super::session_repository::session_and_user(&row));
    }
    Ok(())
}

/// The temporary table (one per connection) of a batch's rotations;
/// `session_id` is set for those whose token is live.
const CREATE_JOBS: &str = "CREATE TEMP TABLE IF NOT EXISTS rotation_jobs ( \
    slot INTEGER PRIMARY KEY, used TEXT NOT NULL, now TEXT NOT NULL, id BLOB NOT NULL, \
    hash TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, session_id BLOB)";

/// One SQLite batch, `$1` a JSON array of `[slot, used, now, id (hex), hash,
/// created_at, expires_at]`: finds which tokens are live (unrotated,
/// unexpired, in an unrevoked, unexpired session of an active user), marks
/// them rotated, stores their replacements, extends their sessions and
/// returns each winner's slot with its session and user.
static BATCH_SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{CREATE_JOBS}; \
         BEGIN IMMEDIATE; \
         DELETE FROM temp.rotation_jobs; \
         INSERT INTO temp.rotation_jobs (slot, used, now, id, hash, created_at, expires_at) \
         SELECT value ->> 0, value ->> 1, value ->> 2, unhex(value ->> 3), value ->> 4, \
                value ->> 5, value ->> 6 \
         FROM json_each($1); \
         UPDATE temp.rotation_jobs SET session_id = ( \
           SELECT t.session_id FROM refresh_tokens t \
           JOIN sessions s ON s.id = t.session_id \
           JOIN users u ON u.id = s.user_id \
           WHERE t.token_hash = rotation_jobs.used AND t.rotated_at IS NULL \
             AND t.expires_at > rotation_jobs.now AND s.revoked_at IS NULL \
             AND s.expires_at > rotation_jobs.now AND u.is_active); \
         UPDATE refresh_tokens SET rotated_at = j.now FROM temp.rotation_jobs j \
         WHERE refresh_tokens.token_hash = j.used AND j.session_id IS NOT NULL; \
         INSERT INTO refresh_tokens \
           (id, session_id, token_hash, created_at, expires_at, rotated_at) \
         SELECT id, session_id, hash, created_at, expires_at, NULL \
         FROM temp.rotation_jobs WHERE session_id IS NOT NULL ORDER BY slot; \
         UPDATE sessions SET last_used_at = j.now, expires_at = j.expires_at \
         FROM temp.rotation_jobs j WHERE sessions.id = j.session_id; \
         SELECT j.slot AS slot, {} FROM temp.rotation_jobs j \
         JOIN sessions s ON s.id = j.session_id JOIN users u ON u.id = s.user_id; \
         COMMIT",
        super::session_repository::session_and_user_columns()
    )
});

/// A time as the SQLite driver stores it (RFC 3339, as many fractional
/// digits as needed), so that stored times compare as text.
fn stored_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Commits `batch` in one transaction, under `gate`, on a connection of
/// the pool (taken for the batch only, so that even a pool of one
/// connection serves everyone); returns the winners' outcomes by slot.
async fn commit_sqlite(
    db: &DatabaseConnection,
    gate: &WriteGate,
    batch: &[Job],
) -> Result<Winners, DbErr> {
    let jobs: Vec<_> = batch
        .iter()
        .enumerate()
        .map(|(slot, job)| {
            serde_json::json!([
                slot,
                job.used.as_str(),
                stored_time(job.now),
                job.replacement.id.0.simple().to_string(),
                job.replacement.hash.as_str(),
                stored_time(job.replacement.created_at),
                stored_time(job.replacement.expires_at),
            ])
        })
        .collect();
    let jobs = serde_json::Value::Array(jobs).to_string();
    let _writer = gate.enter().await;
    let mut conn = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(batching::unreachable)?;
    let rows = match sqlx::query(BATCH_SQLITE.as_str())
        .bind(jobs)
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(error) => {
            // Leave no transaction open: a connection that cannot roll
            // back goes instead of back to the pool.
            let rolled_back = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            if rolled_back.is_err_and(|e| !e.to_string().contains("no transaction")) {
                conn.close_on_drop();
            }
            return Err(failed_statement(error));
        }
    };
    drop(conn);
    let mut winners = HashMap::new();
    for row in rows {
        winner(QueryResult::from(row), &mut winners)?;
    }
    Ok(winners)
}

/// One PostgreSQL batch, one statement: `$1`–`$6` the jobs' used hashes,
/// times, and replacements' ids, hashes, issue and expiry times (one
/// array each, in slot order). Finds each live token by its hash (one
/// unique-key lookup per job: joined to the whole list at once, the
/// planner would scan every live token), locks the sessions that are
/// live at their job's time, in the order of their ids, compares and
/// sets each token (against its newest version, so a racing rotation
/// that got there first leaves its job with no row), stores the
/// replacements, extends the sessions and returns each winner's slot
/// (from 1) with its session and user. Every step reaches its rows
/// through a unique index (`= ANY` of the batch's keys), whatever the
/// planner thinks the batch's size is: the tokens by their primary key,
/// not through the one-live-token-per-session index, whose entries of a
/// busy session pile up (one per rotation) until a vacuum. The sessions
/// are all locked before any token: the keys of the token update wait for
/// the lock step.
static BATCH_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH jobs AS MATERIALIZED ( \
           SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::uuid[], $4::text[], \
                                $5::timestamptz[], $6::timestamptz[]) \
             WITH ORDINALITY AS j (used, now, id, hash, created_at, expires_at, slot) \
         ), found AS MATERIALIZED ( \
           SELECT j.*, t.token_id, t.session_id FROM jobs j CROSS JOIN LATERAL ( \
             SELECT id AS token_id, session_id FROM refresh_tokens \
             WHERE token_hash = j.used AND rotated_at IS NULL AND expires_at > j.now \
             LIMIT 1 \
           ) t \
         ), locked AS MATERIALIZED ( \
           SELECT s.id FROM found f \
           JOIN sessions s ON s.id = f.session_id \
           JOIN users u ON u.id = s.user_id \
           WHERE s.id = ANY (ARRAY(SELECT session_id FROM found)) \
             AND s.revoked_at IS NULL AND s.expires_at > f.now AND u.is_active \
           ORDER BY s.id \
           FOR UPDATE OF s \
         ), rotated AS ( \
           UPDATE refresh_tokens t SET rotated_at = f.now FROM found f \
           WHERE t.id = ANY (ARRAY( \
               SELECT token_id FROM found JOIN locked ON locked.id = found.session_id)) \
             AND t.id = f.token_id AND t.rotated_at IS NULL \
           RETURNING f.slot, f.id, f.hash, f.created_at, f.expires_at, f.now, t.session_id \
         ), extended AS ( \
           UPDATE sessions s SET last_used_at = r.now, expires_at = r.expires_at \
           FROM rotated r \
           WHERE s.id = ANY (ARRAY(SELECT session_id FROM rotated)) AND s.id = r.session_id \
           RETURNING r.slot, s.* \
         ), stored AS ( \
           INSERT INTO refresh_tokens \
             (id, session_id, token_hash, created_at, expires_at, rotated_at) \
           SELECT id, session_id, hash, created_at, expires_at, NULL FROM rotated \
           ORDER BY slot \
         ) \
         SELECT s.slot - 1 AS slot, {} FROM extended s JOIN users u ON u.id = s.user_id",
        super::session_repository::session_and_user_columns()
    )
});

/// Commits `batch` as one statement (so one transaction) on a connection
/// of the writer's pool; returns the winners by slot.
async fn commit_postgres(pool: &PgPool, batch: &[Job]) -> Result<Winners, DbErr> {
    let used: Vec<&str> = batch.iter().map(|job| job.used.as_str()).collect();
    let now: Vec<DateTime<Utc>> = batch.iter().map(|job| job.now).collect();
    let ids: Vec<uuid::Uuid> = batch.iter().map(|job| job.replacement.id.0).collect();
    let hashes: Vec<&str> = batch
        .iter()
        .map(|job| job.replacement.hash.as_str())
        .collect();
    let created: Vec<DateTime<Utc>> = batch.iter().map(|job| job.replacement.created_at).collect();
    let expires: Vec<DateTime<Utc>> = batch.iter().map(|job| job.replacement.expires_at).collect();
    let rows = sqlx::query(BATCH_POSTGRES.as_str())
        .bind(used)
        .bind(now)
        .bind(ids)
        .bind(hashes)
        .bind(created)
        .bind(expires)
        .fetch_all(&mut *pool.acquire().await.map_err(batching::unreachable)?)
        .await
        .map_err(failed_statement)?;
    let mut winners = HashMap::new();
    for row in rows {
        winner(QueryResult::from(row), &mut winners)?;
    }
    Ok(winners)
}
