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
