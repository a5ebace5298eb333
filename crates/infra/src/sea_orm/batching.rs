//! Requests' database work gathered into batches, on a thread of its own.
//!
//! Each request's statement costs, besides its rows, a round trip and the
//! wake-ups of the threads on both ends of it (on SQLite, of the
//! connection's own thread): with many requests at once, those wake-ups,
//! not SQL, bound the hot paths. A batcher takes every job waiting when a
//! batch can start and runs them as one statement, so the round trip and
//! its wake-ups serve the whole batch. It never waits for a batch to
//! fill: a lone request runs at once.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use sea_orm::sqlx::{self, PgPool};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};
use tokio::sync::{Semaphore, mpsc};

/// What a batcher does with a job it is offered.
pub(crate) enum Admit {
    /// Into this batch.
    Take,
    /// Into the next batch (it clashes with one in this batch).
    Defer,
    /// Nowhere: nobody waits for its answer any more.
    Drop,
}

/// Runs `body` on a new thread named `name`, on a single-threaded runtime
/// of its own (so that the connections it opens are driven by that
/// thread).
///
/// # Panics
/// When the thread or its runtime cannot be started.
pub(crate) fn spawn_thread<F, Fut>(name: &str, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for a batcher");
            runtime.block_on(body());
        })
        .expect("a thread for a batcher");
}

/// A pool of `connections` of a batcher's own on PostgreSQL, with the main
/// pool's settings and the session `settings` besides, named
/// `application_name` in `pg_stat_activity`. Its connections open when
/// first needed; call it on the batcher's thread.
pub(crate) fn own_postgres_pool(
    db: &DatabaseConnection,
    connections: u32,
    application_name: &str,
    settings: &[(&str, &str)],
) -> PgPool {
    let main = db.get_postgres_connection_pool();
    main.options()
        .clone()
        .max_connections(connections)
        .min_connections(0)
        .connect_lazy_with(
            (*main.connect_options())
                .clone()
                .application_name(application_name)
                .options(settings.iter().copied()),
        )
}

/// A connection that could not be had: the database is unreachable (a
/// 503, as the main pool's failures to connect are).
pub(crate) fn unreachable(error: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(error.into()))
}

/// The loop of a batcher: whenever a batch may start (fewer than
/// `in_flight` are running), takes what is queued, up to `max_batch` jobs
/// as `admit` decides (deferred jobs come first in the next batch), and
/// starts `settle` on it. Returns when every sender is gone and the
/// running batches have finished.
pub(crate) async fn run<J, A, S, Fut>(
    mut queue: mpsc::Receiver<J>,
    in_flight: u32,
    max_batch: usize,
    admit: A,
    settle: S,
) where
    J: Send + 'static,
    A: Fn(&J, &[J]) -> Admit,
    S: Fn(Vec<J>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(in_flight as usize));
    let mut deferred = VecDeque::new();
    let take = |job: J, batch: &mut Vec<J>, deferred: &mut VecDeque<J>| match admit(&job, batch) {
        Admit::Take => batch.push(job),
        Admit::Defer => deferred.push_back(job),
        Admit::Drop => {}
    };
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let mut batch = Vec::new();
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
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => take(job, &mut batch, &mut deferred),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let settled = settle(batch);
        tokio::spawn(async move {
            settled.await;
            drop(permit);
        });
    }
    let _finished = permits.acquire_many(in_flight).await;
}
