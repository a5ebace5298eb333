use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::StorageError;

/// Events counted for one key in its current fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Events in the window (0 when the key has no live window).
    pub count: u64,
    /// When the window ends and the count starts again from zero.
    pub resets_at: DateTime<Utc>,
}

/// Counts events per key in fixed windows, in a store every instance
/// shares, so limits hold behind a load balancer.
///
/// # Errors
/// [`StorageError::Unavailable`] when the store cannot be reached,
/// [`StorageError::Unexpected`] otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Records one event for `key` and returns the count including it. A
    /// window older than `window` starts afresh.
    async fn hit(
        &self,
        key: &str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<WindowCount, StorageError>;

    /// Records one event for each `(key, limit)` of `keys` in turn, as one
    /// step where the store allows: a key is counted only while every key
    /// before it stayed within its limit, its own event included. Returns
    /// the counts recorded, in order: fewer than `keys` when a limit
    /// stopped the turn, the last one then being over its limit.
    async fn hit_in_turn<'a>(
        &self,
        keys: &[(&'a str, u64)],
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<Vec<WindowCount>, StorageError> {
        hit_one_by_one(self, keys, window, now).await
    }

    /// Forgets `forget`, when given, and takes back one event of `release`
    /// (see [`RateLimiter::release`]), as one step where the store allows.
    /// Both are attempted; the first error is returned.
    async fn reset_and_release<'a>(
        &self,
        forget: Option<&'a str>,
        release: &str,
    ) -> Result<(), StorageError> {
        let forgotten = match forget {
            Some(key) => self.reset(key).await,
            None => Ok(()),
        };
        let released = self.release(release).await;
        forgotten.and(released)
    }

    /// The count for `key` without recording anything.
    async fn peek(
        &self,
        key: &str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<WindowCount, StorageError>;

    /// Takes back one event recorded for `key` (an attempt reserved with
    /// [`RateLimiter::hit`] that turned out not to count); never below zero.
    async fn release(&self, key: &str) -> Result<(), StorageError>;

    /// Forgets `key`.
    async fn reset(&self, key: &str) -> Result<(), StorageError>;

    /// Deletes windows that started before `before`.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}

/// [`RateLimiter::hit_in_turn`] as one [`RateLimiter::hit`] after another:
/// its default, for stores that cannot do better.
///
/// # Errors
/// The first error of a `hit`.
pub async fn hit_one_by_one<L: RateLimiter + ?Sized>(
    limiter: &L,
    keys: &[(&str, u64)],
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Vec<WindowCount>, StorageError> {
    let mut counts = Vec::with_capacity(keys.len());
    for &(key, limit) in keys {
        let count = limiter.hit(key, window, now).await?;
        counts.push(count);
        if count.count > limit {
            break;
        }
    }
    Ok(counts)
}
