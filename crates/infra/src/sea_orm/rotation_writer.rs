//! SQLite: the hot path of refreshes, many requests' rotations committed
//! together by one writer.
//!
//! SQLite runs one write transaction at a time, and each statement of a
//! transaction is a hand-over between threads (the request's, then the
//! connection's own thread, and back). One refresh at a time costs three
//! such hand-overs (begin, rotate, commit) with the write lock held, and
//! that, not SQL, bounded refreshes. Here the rotations waiting when the
//! writer is free go into one transaction sent as one batch: one
//! hand-over and one commit for all of them, each rotation still decided
//! against what the ones before it wrote.

use std::collections::{HashMap, VecDeque};

use auth_domain::common::{StorageError, TokenHash};
use auth_domain::session::{RefreshTokenDraft, Session};
use auth_domain::user::User;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sqlx;
use sea_orm::{DatabaseConnection, DbErr, QueryResult, RuntimeErr};
use tokio::sync::{mpsc, oneshot};

use super::error::storage_error;
use super::write_gate::WriteGate;

/// The most rotations committed together.
const MAX_BATCH: usize = 64;

/// What a rotation answers: the extended session and its user, or `None`.
type Outcome = Result<Option<(Session, User)>, StorageError>;

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

impl RotationWriter {
    /// Starts the writer of `db`, which takes the write `gate` for each
    /// batch, on a thread of its own.
    ///
    /// # Panics
    /// When the thread or its runtime cannot be started.
    pub(crate) fn start(db: DatabaseConnection, gate: WriteGate) -> Self {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        std::thread::Builder::new()
            .name("sqlite-rotations".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("a runtime for the SQLite writer");
                runtime.block_on(run(db, gate, queue));
            })
            .expect("a thread for the SQLite writer");
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

/// A driver error as the domain's storage error.
fn failed(error: sqlx::Error) -> StorageError {
    storage_error(DbErr::Exec(RuntimeErr::SqlxError(error.into())))
}

fn stopped() -> StorageError {
    StorageError::Unexpected(anyhow::anyhow!("the SQLite rotation writer stopped"))
}

/// The writer's loop: takes what is queued (up to [`MAX_BATCH`], one job
/// per token: a second presentation of the same token waits for the next
/// batch, where it sees the first one's rotation), commits it, answers.
async fn run(db: DatabaseConnection, gate: WriteGate, mut queue: mpsc::Receiver<Job>) {
    let mut deferred = VecDeque::new();
    loop {
        let mut batch: Vec<Job> = Vec::new();
        for _ in 0..deferred.len() {
            if let Some(job) = deferred.pop_front() {
                take(job, &mut batch, &mut deferred);
            }
        }
        if batch.is_empty() && deferred.is_empty() {
            match queue.recv().await {
                Some(job) => take(job, &mut batch, &mut deferred),
                None => break,
            }
        }
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => take(job, &mut batch, &mut deferred),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        match commit(&db, &gate, &batch).await {
            Ok(mut outcomes) => {
                for (slot, job) in batch.into_iter().enumerate() {
                    let outcome = outcomes.remove(&slot);
                    job.reply.send(outcome.transpose()).ok();
                }
            }
            Err(error) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    job.reply.send(Err(failed(error))).ok();
                }
            }
            // One bad rotation must not fail the others: each alone.
            Err(_) => {
                for job in batch {
                    let outcome = commit(&db, &gate, std::slice::from_ref(&job))
                        .await
                        .map_err(failed)
                        .and_then(|mut outcomes| outcomes.remove(&0).transpose());
                    job.reply.send(outcome).ok();
                }
            }
        }
    }
}

/// Adds `job` to `batch`, unless its request is gone or the batch already
/// rotates the same token: then it waits in `deferred` for the next batch.
fn take(job: Job, batch: &mut Vec<Job>, deferred: &mut VecDeque<Job>) {
    if job.reply.is_closed() {
        // Its request is gone: nobody would get the new token.
        return;
    }
    if batch.iter().any(|queued| queued.used == job.used) {
        deferred.push_back(job);
    } else {
        batch.push(job);
    }
}

/// The temporary table (one per connection) of a batch's rotations;
/// `session_id` is set for those whose token is live.
const CREATE_JOBS: &str = "CREATE TEMP TABLE IF NOT EXISTS rotation_jobs ( \
    slot INTEGER PRIMARY KEY, used TEXT NOT NULL, now TEXT NOT NULL, id BLOB NOT NULL, \
    hash TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, session_id BLOB)";

/// One batch, `$1` a JSON array of `[slot, used, now, id (hex), hash,
/// created_at, expires_at]`: finds which tokens are live (unrotated,
/// unexpired, in an unrevoked, unexpired session of an active user), marks
/// them rotated, stores their replacements, extends their sessions and
/// returns each winner's slot with its session and user.
static BATCH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
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
async fn commit(
    db: &DatabaseConnection,
    gate: &WriteGate,
    batch: &[Job],
) -> Result<HashMap<usize, Result<(Session, User), StorageError>>, sqlx::Error> {
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
    let mut conn = db.get_sqlite_connection_pool().acquire().await?;
    let rows = match sqlx::query(BATCH.as_str())
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
            return Err(error);
        }
    };
    drop(conn);
    let mut outcomes = HashMap::new();
    for row in rows {
        let row = QueryResult::from(row);
        let slot: i64 = row
            .try_get("", "slot")
            .map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
        if let Ok(slot) = usize::try_from(slot) {
            outcomes.insert(slot, super::session_repository::session_and_user(&row));
        }
    }
    Ok(outcomes)
}
