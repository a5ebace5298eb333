//! Fixed-window counters in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use auth_domain::common::{RateLimiter, StorageError, WindowCount};
use chrono::{DateTime, TimeDelta, Utc};

use super::poisoned;

/// One key's window: when it started and how many events it holds.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    count: u64,
}

/// [`RateLimiter`] on a map of fixed windows behind one lock, so every hit
/// is counted however many arrive at once.
///
/// The counts live in this process only. The port asks for a store every
/// instance shares, so limits hold behind a load balancer: a service that
/// runs several instances needs a shared store instead (auth-infra's
/// `SeaOrmRateLimiter` keeps them in the database).
#[derive(Debug, Default)]
pub struct InMemoryRateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

impl InMemoryRateLimiter {
    /// An empty limiter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

/// The count of `window` at `now`: zero once the window has ended.
fn window_count(window: Option<&Window>, length: TimeDelta, now: DateTime<Utc>) -> WindowCount {
    match window {
        Some(w) if w.start + length > now => WindowCount {
            count: w.count,
            resets_at: w.start + length,
        },
        _ => WindowCount {
            count: 0,
            resets_at: now,
        },
    }
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn hit(
        &self,
        key: &str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<WindowCount, StorageError> {
        let mut windows = self.windows.lock().map_err(poisoned)?;
        let entry = windows.entry(key.to_owned()).or_insert(Window {
            start: now,
            count: 0,
        });
        if entry.start + window <= now {
            *entry = Window {
                start: now,
                count: 0,
            };
        }
        entry.count += 1;
        Ok(window_count(Some(entry), window, now))
    }

    async fn peek(
        &self,
        key: &str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<WindowCount, StorageError> {
        let windows = self.windows.lock().map_err(poisoned)?;
        Ok(window_count(windows.get(key), window, now))
    }

    async fn release(&self, key: &str) -> Result<(), StorageError> {
        let mut windows = self.windows.lock().map_err(poisoned)?;
        if let Some(window) = windows.get_mut(key) {
            window.count = window.count.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), StorageError> {
        self.windows.lock().map_err(poisoned)?.remove(key);
        Ok(())
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let mut windows = self.windows.lock().map_err(poisoned)?;
        let len = windows.len();
        windows.retain(|_, w| w.start >= before);
        Ok(u64::try_from(len - windows.len()).unwrap_or(u64::MAX))
    }
}
