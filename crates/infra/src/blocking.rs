//! A bounded pool of OS threads for CPU-heavy work (password hashing).
//!
//! Jobs run on `workers` dedicated threads, never on the async executor. At
//! most `max_queue` further jobs wait; past that, [`BlockingPool::run`] fails at
//! once with [`PoolError::Busy`], so a flood of requests neither starves other
//! requests nor grows memory with the number of requests in flight. A job
//! whose caller stopped waiting before a worker took it (the client
//! disconnected, so the request future was dropped) is skipped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Why a job did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every worker is busy and the queue is full.
    #[error("blocking pool is saturated")]
    Busy,
    /// The job panicked or the pool shut down.
    #[error("blocking job failed")]
    Failed,
}

/// A fixed set of worker threads fed through a bounded queue.
#[derive(Debug)]
pub struct BlockingPool {
    sender: Mutex<Option<Sender<Job>>>,
    /// Jobs accepted and not yet finished (waiting or running). Admission
    /// is decided on this count alone, so whether a job is accepted does not
    /// depend on whether an idle worker happens to be blocked in `recv`.
    in_flight: Arc<AtomicUsize>,
    queued: Arc<AtomicUsize>,
    /// Jobs run, and jobs skipped because their caller had gone.
    finished: Arc<AtomicU64>,
    abandoned: Arc<AtomicU64>,
    workers: usize,
    max_queue: usize,
}

/// How the pool's threads are scheduled against the rest of the process.
///
/// Measured on a 2-core machine while 200 log-ins were hashed at once and
/// `/health` was read over 8 connections as fast as they went: `/health`'s
/// p99 was 4–5 ms at niceness 10 and 1.7–4.3 ms at niceness 19
/// ([`Self::Low`]). Linux's `SCHED_IDLE` policy brought it down to
/// 0.2–1.1 ms, but is not offered: in the same flood on PostgreSQL,
/// database connections then waited up to 5 s to be handed out (none
/// waited 2 s at niceness 19), long enough for a log-in's statement to time
/// out. An idle thread
/// preempted while it holds a lock the async workers share (the allocator's,
/// a runtime's wake-up queue) does not run again while anything else wants
/// the core, and the workers wait for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThreadPriority {
    /// Niceness [`NICENESS`], the lowest within the normal policy.
    #[default]
    Low,
    /// The same priority as the thread that started the pool.
    Normal,
}

/// The niceness of [`ThreadPriority::Low`] threads: as nice as a thread can
/// be (the niceness is capped at 19).
pub const NICENESS: i32 = 19;

/// Lowers the calling thread's scheduling priority to `priority`, so that a
/// flood of CPU-bound jobs (password hashes) yields the cores to the async
/// workers: `/health` and token-authenticated reads stay fast while every
/// hashing thread is busy. Linux sets the niceness per thread; elsewhere
/// this does nothing. A refusal (a sandbox without the right) is logged
/// once per thread and changes nothing else.
fn lower_priority(priority: ThreadPriority) {
    #[cfg(target_os = "linux")]
    if priority == ThreadPriority::Low {
        let thread = rustix::thread::gettid();
        let current = rustix::process::getpriority_process(Some(thread)).unwrap_or(0);
        if let Err(error) =
            rustix::process::setpriority_process(Some(thread), (current + NICENESS).min(19))
        {
            tracing::warn!(%error, "could not lower the priority of a hashing thread");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = priority;
}

impl BlockingPool {
    /// Starts `workers` threads (at least one) named `{name}-{i}`, with room for
    /// `max_queue` waiting jobs. The threads run at a lower priority than the
    /// rest of the process ([`ThreadPriority::Low`]); see
    /// [`Self::with_priority`].
    ///
    /// # Errors
    /// When the operating system refuses to start a thread.
    pub fn new(name: &str, workers: usize, max_queue: usize) -> std::io::Result<Self> {
        Self::with_priority(name, workers, max_queue, ThreadPriority::default())
    }

    /// [`Self::new`] with the threads scheduled at `priority`.
    ///
    /// # Errors
    /// When the operating system refuses to start a thread.
    pub fn with_priority(
        name: &str,
        workers: usize,
        max_queue: usize,
        priority: ThreadPriority,
    ) -> std::io::Result<Self> {
        let workers = workers.max(1);
        // Unbounded channel: the bound is `in_flight`, checked before sending.
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let queued = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        for index in 0..workers {
            let receiver = Arc::clone(&receiver);
            let queued = Arc::clone(&queued);
            thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    lower_priority(priority);
                    worker_loop(&receiver, &queued);
                })?;
        }
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            in_flight,
            queued,
            finished: Arc::new(AtomicU64::new(0)),
            abandoned: Arc::new(AtomicU64::new(0)),
            workers,
            max_queue,
        })
    }

    /// Runs `job` on a worker thread, inside the caller's tracing span.
    /// When the returned future is dropped before a worker takes the job,
    /// the job never runs, and its place is freed as soon as a worker
    /// reaches it.
    ///
    /// # Errors
    /// [`PoolError::Busy`] when the queue is full, [`PoolError::Failed`] when
    /// the job panicked or the pool was shut down.
    pub async fn run<F, T>(&self, job: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let span = tracing::Span::current();
        {
            let sender = self.sender.lock().map_err(|_| PoolError::Failed)?;
            let sender = sender.as_ref().ok_or(PoolError::Failed)?;
            // Admission: at most `workers` running plus `max_queue` waiting.
            let capacity = self.workers + self.max_queue;
            self.in_flight
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < capacity).then_some(n + 1)
                })
                .map_err(|_| PoolError::Busy)?;
            let slot = Slot(Arc::clone(&self.in_flight));
            let (finished, abandoned) = (self.finished.clone(), self.abandoned.clone());
            let job: Job = Box::new(move || {
                // Nobody waits for the result any more: skip the work (for
                // Argon2, ~20 ms and 19 MiB) and free the slot on return.
                if reply.is_closed() {
                    abandoned.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let _entered = span.enter();
                let output = job();
                finished.fetch_add(1, Ordering::Relaxed);
                // Freed before replying: a caller that submits its next job
                // as soon as it has this one's result must find room.
                drop(slot);
                // The caller may have given up (client disconnected).
                let _ = reply.send(output);
            });
            // Counted before sending so a worker never decrements below zero.
            self.queued.fetch_add(1, Ordering::SeqCst);
            if sender.send(job).is_err() {
                // The job (and its slot) came back with the error and is dropped.
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(PoolError::Failed);
            }
        }
        result.await.map_err(|_| PoolError::Failed)
    }

    /// Jobs accepted but not yet picked up by a worker.
    #[must_use]
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// The number of worker threads.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The most jobs that may wait.
    #[must_use]
    pub fn max_queue(&self) -> usize {
        self.max_queue
    }

    /// Stops accepting jobs; workers exit once the queue is drained.
    pub fn shutdown(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
    }
}

impl Drop for BlockingPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One admitted job's place in the pool, freed when dropped: after the job
/// ran, when it panicked, or when it could not be sent.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn worker_loop(receiver: &Mutex<Receiver<Job>>, queued: &AtomicUsize) {
    loop {
        let job = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        queued.fetch_sub(1, Ordering::SeqCst);
        // A panicking job drops its reply sender (the caller sees `Failed`);
        // the worker itself lives on.
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a blocking job panicked");
        }
    }
}

impl auth_domain::common::HashingLoad for BlockingPool {
    fn queue_depth(&self) -> usize {
        BlockingPool::queue_depth(self)
    }

    fn workers(&self) -> usize {
        BlockingPool::workers(self)
    }

    fn finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    fn abandoned(&self) -> u64 {
        self.abandoned.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::time::Duration;

    use super::*;

    /// The worker's niceness, as Linux reports it.
    #[cfg(target_os = "linux")]
    async fn worker_niceness(pool: &BlockingPool) -> i32 {
        pool.run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .expect("ran")
            .expect("worker niceness")
    }

    #[cfg(target_os = "linux")]
    fn own_niceness() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("own niceness")
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn jobs_run_at_a_lower_priority_than_the_caller() {
        let caller = own_niceness();
        for pool in [
            BlockingPool::new("test-pool", 1, 1).expect("pool"),
            BlockingPool::with_priority("test-pool", 1, 1, ThreadPriority::Low).expect("pool"),
        ] {
            // Capped at 19, the lowest priority there is.
            assert_eq!(worker_niceness(&pool).await, (caller + NICENESS).min(19));
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn normal_jobs_run_as_the_caller_does() {
        let pool =
            BlockingPool::with_priority("test-pool", 1, 1, ThreadPriority::Normal).expect("pool");
        assert_eq!(worker_niceness(&pool).await, own_niceness());
    }

    #[tokio::test]
    async fn runs_jobs_off_the_async_threads() {
        let pool = BlockingPool::new("test-pool", 2, 4).expect("pool");
        let name = pool
            .run(|| thread::current().name().map(str::to_owned))
            .await
            .expect("ran");
        assert!(name.expect("named").starts_with("test-pool-"));
    }

    #[tokio::test]
    async fn refuses_work_past_the_queue() {
        let pool = Arc::new(BlockingPool::new("full-pool", 1, 1).expect("pool"));
        let gate = Arc::new(Barrier::new(2));
        let started = Arc::new(AtomicUsize::new(0));
        // Occupies the only worker until the gate opens.
        let blocker = {
            let (pool, gate, started) = (pool.clone(), gate.clone(), started.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    gate.wait();
                })
                .await
            })
        };
        while started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Fills the one queue slot.
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 7).await })
        };
        while pool.queue_depth() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(matches!(pool.run(|| 0).await, Err(PoolError::Busy)));
        gate.wait();
        blocker.await.expect("joined").expect("ran");
        assert_eq!(queued.await.expect("joined").expect("ran"), 7);
        assert_eq!(pool.queue_depth(), 0);
    }

    #[tokio::test]
    async fn an_idle_pool_without_a_queue_takes_work_at_once() {
        // No waiting room: admission must not depend on a worker already
        // being parked in `recv` (right after start, or between two jobs).
        let pool = BlockingPool::new("no-queue-pool", 1, 0).expect("pool");
        for i in 0..50 {
            assert_eq!(pool.run(move || i).await.expect("admitted"), i);
        }
    }

    #[tokio::test]
    async fn skips_jobs_whose_caller_gave_up() {
        use std::future::Future as _;
        use std::task::{Context, Waker};

        const ABANDONED: usize = 8;
        let pool = Arc::new(BlockingPool::new("cancel-pool", 1, ABANDONED).expect("pool"));
        let (release, gate) = channel::<()>();
        let started = Arc::new(AtomicUsize::new(0));
        // Occupies the only worker until released.
        let blocker = {
            let (pool, started) = (pool.clone(), started.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    gate.recv()
                })
                .await
            })
        };
        while started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Callers that queue a job, then go away (their client disconnected).
        let ran = Arc::new(AtomicUsize::new(0));
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..ABANDONED {
            let ran = ran.clone();
            let mut call = Box::pin(pool.run(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }));
            assert!(call.as_mut().poll(&mut cx).is_pending(), "queued");
            drop(call);
        }
        assert_eq!(pool.queue_depth(), ABANDONED);
        assert!(matches!(pool.run(|| ()).await, Err(PoolError::Busy)));

        release.send(()).expect("release the worker");
        blocker
            .await
            .expect("joined")
            .expect("ran")
            .expect("released");
        // One worker, first in first out: once this job has run, every
        // abandoned one was taken off the queue before it.
        assert_eq!(pool.run(|| 42).await.expect("admitted"), 42);
        assert_eq!(ran.load(Ordering::SeqCst), 0, "an abandoned job ran");
        let load: &dyn auth_domain::common::HashingLoad = &*pool;
        assert_eq!(load.abandoned(), ABANDONED as u64);
        // The blocker and the last job.
        assert_eq!(load.finished(), 2);
        assert_eq!(pool.in_flight.load(Ordering::SeqCst), 0);
        assert_eq!(pool.queue_depth(), 0);
        for i in 0..=ABANDONED {
            assert_eq!(pool.run(move || i).await.expect("admitted"), i);
        }
    }

    #[tokio::test]
    async fn survives_a_panicking_job() {
        let pool = BlockingPool::new("panic-pool", 1, 2).expect("pool");
        let result: Result<(), _> = pool.run(|| panic!("boom")).await;
        assert!(matches!(result, Err(PoolError::Failed)));
        assert_eq!(pool.run(|| 1 + 1).await.expect("ran"), 2);
    }
}
