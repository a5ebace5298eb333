//! The mail outbox worker: sends what requests queued in the outbox
//! ([`SeaOrmMailOutbox`]) through the real transport, with retries.
//!
//! Each pass claims due rows (leased for [`LEASE`], so a crashed instance's
//! claims come back), sends them one by one and records each outcome. A
//! failed attempt is retried after an exponential, capped and jittered delay
//! ([`RetryPolicy`]); after `max_attempts` the row is marked `dead` and
//! logged at ERROR. Delivery is at least once: an instance that stops between
//! the SMTP server's acceptance and the `sent` mark sends that mail again when
//! the lease runs out; nothing else does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_domain::common::StorageError;
use auth_domain::mail::Mailer;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::sea_orm::{ClaimedMail, SeaOrmMailOutbox};

/// How long a claim keeps other workers off a row: far longer than an SMTP
/// exchange may take (lettre gives up after a minute).
pub const LEASE: TimeDelta = TimeDelta::minutes(10);
/// How many rows one claim takes.
const BATCH: u32 = 16;
/// How often the worker looks for due rows when nothing wakes it (retries
/// coming due, rows queued by other instances or the command line).
const POLL: Duration = Duration::from_secs(5);
/// How long sent and dead rows (without their bodies) are kept.
const KEEP_FINISHED: TimeDelta = TimeDelta::days(7);
/// How often finished rows are purged.
const PURGE_EVERY: TimeDelta = TimeDelta::hours(1);
/// How long [`OutboxHandle::stop`] lets a send in progress finish.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// When failed messages are tried again, and when they are given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure; each further failure doubles it.
    pub first_delay: TimeDelta,
    /// The longest delay.
    pub max_delay: TimeDelta,
    /// Attempts in all (the first included) before a message is `dead`.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min, … capped at 1 h, ten attempts: about four hours
    /// of outage are bridged.
    fn default() -> Self {
        Self {
            first_delay: TimeDelta::seconds(30),
            max_delay: TimeDelta::hours(1),
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// The delay after `failed` failed attempts (1 or more):
    /// `first_delay · 2^(failed − 1)`, at most `max_delay`, less a random
    /// part of up to a fifth so that instances that failed together do not
    /// retry together. Below the cap each delay is longer than the one
    /// before, whatever the jitter.
    #[must_use]
    pub fn delay(&self, failed: u32) -> TimeDelta {
        let doublings = failed.saturating_sub(1).min(30);
        let full = self
            .first_delay
            .checked_mul(1_i32 << doublings)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
            .max(TimeDelta::seconds(1));
        let jitter_ms = u64::try_from(full.num_milliseconds() / 5).unwrap_or(0);
        let jitter = rand::random_range(0..=jitter_ms);
        full - TimeDelta::milliseconds(i64::try_from(jitter).unwrap_or(0))
    }
}

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Messages handed to the transport.
    pub sent: usize,
    /// Messages that failed and wait for another attempt.
    pub retried: usize,
    /// Messages given up.
    pub dead: usize,
}

/// Sends the outbox's due messages through `transport`.
pub struct OutboxWorker {
    outbox: SeaOrmMailOutbox,
    transport: Arc<dyn Mailer>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// A worker for `outbox`, delivering through `transport` (the SMTP or
    /// log mailer).
    #[must_use]
    pub fn new(outbox: SeaOrmMailOutbox, transport: Arc<dyn Mailer>, policy: RetryPolicy) -> Self {
        Self {
            outbox,
            transport,
            policy,
        }
    }

    /// Claims and sends due messages until none is due.
    ///
    /// # Errors
    /// [`StorageError`] when the outbox cannot be read or updated; the rows
    /// claimed then come back when their lease runs out.
    pub async fn drain(&self) -> Result<Drained, StorageError> {
        let mut drained = Drained::default();
        while self.batch(&mut drained).await? {}
        Ok(drained)
    }

    /// Claims and sends one batch; `false` when nothing was due.
    async fn batch(&self, drained: &mut Drained) -> Result<bool, StorageError> {
        let now = self.outbox.now();
        let claimed = self.outbox.claim(now, now + LEASE, BATCH).await?;
        if claimed.is_empty() {
            return Ok(false);
        }
        for mail in claimed {
            self.deliver(mail, drained).await?;
        }
        Ok(true)
    }

    async fn deliver(
        &self,
        claimed: ClaimedMail,
        drained: &mut Drained,
    ) -> Result<(), StorageError> {
        let ClaimedMail { id, mail, attempt } = claimed;
        let subject = mail.subject.clone();
        let outcome = self.transport.send(mail).await;
        let now = self.outbox.now();
        match outcome {
            Ok(()) => {
                self.outbox.mark_sent(id, now).await?;
                drained.sent += 1;
            }
            Err(error) => {
                let error = format!("{:#}", error.0);
                if attempt >= self.policy.max_attempts {
                    self.outbox.mark_dead(id, now, &error).await?;
                    tracing::error!(
                        mail_id = %id,
                        %subject,
                        attempts = attempt,
                        %error,
                        "mail given up after its last attempt"
                    );
                    drained.dead += 1;
                } else {
                    let delay = self.policy.delay(attempt);
                    self.outbox.reschedule(id, now + delay, &error).await?;
                    tracing::warn!(
                        mail_id = %id,
                        %subject,
                        attempt,
                        retry_in_secs = delay.num_seconds(),
                        %error,
                        "mail delivery failed; will retry"
                    );
                    drained.retried += 1;
                }
            }
        }
        Ok(())
    }

    /// Runs the worker in the background until [`OutboxHandle::stop`]: a
    /// pass whenever a message is queued in this process and every few
    /// seconds otherwise, and an hourly purge of finished rows older than a
    /// week.
    #[must_use]
    pub fn spawn(self) -> OutboxHandle {
        let worker = Arc::new(self);
        let wake = worker.outbox.wake_signal();
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn({
            let worker = worker.clone();
            let wake = wake.clone();
            async move {
                let mut purged_at: Option<DateTime<Utc>> = None;
                loop {
                    worker.pass(&stopped).await;
                    worker.purge(&mut purged_at).await;
                    tokio::select! {
                        () = wake.notified() => {}
                        () = tokio::time::sleep(POLL) => {}
                        changed = stopped.changed() => {
                            // Every handle is gone: nobody can stop it later.
                            if changed.is_err() {
                                break;
                            }
                        }
                    }
                    if *stopped.borrow() {
                        break;
                    }
                }
            }
        });
        OutboxHandle(Arc::new(HandleInner {
            worker,
            wake,
            stop,
            task: Mutex::new(Some(task)),
        }))
    }

    /// Batches until nothing is due or a stop is asked for.
    async fn pass(&self, stopped: &watch::Receiver<bool>) {
        let mut drained = Drained::default();
        loop {
            if *stopped.borrow() {
                break;
            }
            match self.batch(&mut drained).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "mail outbox unavailable");
                    break;
                }
            }
        }
    }

    async fn purge(&self, purged_at: &mut Option<DateTime<Utc>>) {
        let now = self.outbox.now();
        if purged_at.is_some_and(|at| now - at < PURGE_EVERY) {
            return;
        }
        *purged_at = Some(now);
        match self.outbox.purge(now - KEEP_FINISHED).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "finished outbox rows purged"),
            Err(error) => tracing::warn!(error = %error, "mail outbox purge failed"),
        }
    }
}

/// The running worker: wake it, drain on the caller's task, or stop it.
/// Clones share one worker.
#[derive(Debug, Clone)]
pub struct OutboxHandle(Arc<HandleInner>);

#[derive(Debug)]
struct HandleInner {
    worker: Arc<OutboxWorker>,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl OutboxHandle {
    /// Starts a pass now rather than at the next poll.
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// Runs [`OutboxWorker::drain`] on the caller's task (beside the
    /// background pass, which claims other rows).
    ///
    /// # Errors
    /// As [`OutboxWorker::drain`].
    pub async fn drain(&self) -> Result<Drained, StorageError> {
        self.0.worker.drain().await
    }

    /// Stops the worker: the message being sent is finished and recorded
    /// (within 30 s; past that the task is dropped, and its claimed rows come
    /// back when their lease runs out), no further batch starts.
    pub async fn stop(&self) {
        let _ = self.0.stop.send(true);
        let task = self.0.task.lock().ok().and_then(|mut task| task.take());
        if let Some(mut task) = task
            && tokio::time::timeout(STOP_GRACE, &mut task).await.is_err()
        {
            task.abort();
            tracing::warn!("mail outbox worker stopped before its send finished");
        }
    }
}
