//! Limits on password checks (NIST SP 800-63B §5.2.2) and on mail sent to
//! one address.
//!
//! Every password check (log-in, password change, account deletion) is
//! reserved in the shared counter store *before* the hash is verified: one
//! atomic increment per key, so however many attempts arrive at once, at
//! most the configured number is ever checked in a window. Whatever exceeds
//! the limit is refused without hashing.

use chrono::{DateTime, TimeDelta, Utc};

use super::AuthService;
use crate::common::{StorageError, TokenHash, WindowCount, rate_limit_subject};

/// Limits on failed password checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failed checks per account and client address (an IPv6 /64) in the
    /// window; a success resets the pair.
    pub max_pair_failures: u64,
    /// Failed checks per account from all addresses in the window.
    pub max_account_failures: u64,
    /// The window.
    pub window: TimeDelta,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            max_pair_failures: 10,
            max_account_failures: 100,
            window: TimeDelta::seconds(900),
        }
    }
}

/// How long mail throttling counts.
pub const MAIL_WINDOW: TimeDelta = TimeDelta::hours(1);

/// Why a password check was not made.
#[derive(Debug)]
pub(super) enum CheckRefused {
    /// A limit is reached; retry after this many seconds.
    RateLimited(u64),
    /// The counter store failed.
    Storage(StorageError),
}

impl From<StorageError> for CheckRefused {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

/// The counter keys of one password check. Keys are hashed: fixed length
/// whatever the input, and no addresses in the counter table.
#[derive(Debug)]
pub(super) struct AttemptKeys {
    pub(super) account: String,
    pub(super) pair: Option<String>,
}

impl AttemptKeys {
    /// The keys for the account known by `account` (its normalised e-mail
    /// address) checked from `ip`.
    pub(super) fn new(account: &str, ip: Option<&str>) -> Self {
        Self {
            account: format!("login:a:{}", TokenHash::of(account).as_str()),
            pair: ip.map(|ip| {
                let subject = rate_limit_subject(ip);
                format!(
                    "login:p:{}",
                    TokenHash::of(&format!("{subject}\n{account}")).as_str()
                )
            }),
        }
    }
}

/// Seconds until `window` ends, rounded up: a client retrying after a
/// truncated count of seconds would still land inside the window.
pub(super) fn retry_after(window: &WindowCount, now: DateTime<Utc>) -> u64 {
    let remaining = window.resets_at - now;
    let secs = remaining.num_seconds() + i64::from(remaining.subsec_nanos() > 0);
    u64::try_from(secs).unwrap_or(0).max(1)
}

impl AuthService {
    /// Reserves one password check for `keys`, before any hashing. The pair
    /// is counted first, so an address that is over its own limit cannot
    /// also use up the account's allowance and lock its owner out
    /// everywhere.
    ///
    /// # Errors
    /// [`CheckRefused::RateLimited`] when either limit is exceeded (nothing
    /// may be hashed then), `Storage` when the counters cannot be reached.
    pub(super) async fn reserve_password_check(
        &self,
        keys: &AttemptKeys,
    ) -> Result<(), CheckRefused> {
        let Some((limiter, limits)) = &self.limiter else {
            return Ok(());
        };
        let now = self.ports.clock.now();
        if let Some(pair) = &keys.pair {
            let count = limiter.hit(pair, limits.window, now).await?;
            if count.count > limits.max_pair_failures {
                return Err(CheckRefused::RateLimited(retry_after(&count, now)));
            }
        }
        let count = limiter.hit(&keys.account, limits.window, now).await?;
        if count.count > limits.max_account_failures {
            if let Some(pair) = &keys.pair {
                self.release(pair).await;
            }
            return Err(CheckRefused::RateLimited(retry_after(&count, now)));
        }
        Ok(())
    }

    /// The reserved check found the right password: the pair starts afresh
    /// and the account's reservation is taken back.
    pub(super) async fn password_check_passed(&self, keys: &AttemptKeys) {
        let Some((limiter, _)) = &self.limiter else {
            return;
        };
        if let Some(pair) = &keys.pair
            && let Err(error) = limiter.reset(pair).await
        {
            tracing::warn!(error = %error, "could not reset failed password checks");
        }
        self.release(&keys.account).await;
    }

    /// The reserved check was never made (hashing capacity or storage
    /// failed): neither reservation counts.
    pub(super) async fn password_check_not_made(&self, keys: &AttemptKeys) {
        if let Some(pair) = &keys.pair {
            self.release(pair).await;
        }
        self.release(&keys.account).await;
    }

    /// Best-effort: a store failure here must not turn an answer into a 503.
    async fn release(&self, key: &str) {
        let Some((limiter, _)) = &self.limiter else {
            return;
        };
        if let Err(error) = limiter.release(key).await {
            tracing::warn!(error = %error, "could not release a reserved password check");
        }
    }

    /// Counts one mail to `address`; `Some(retry_after)` when the hourly
    /// allowance for that address is used up and nothing may be sent.
    ///
    /// # Errors
    /// When the counters cannot be reached.
    pub(super) async fn mail_allowance_exceeded(
        &self,
        address: &str,
    ) -> Result<Option<u64>, StorageError> {
        let Some((limiter, per_hour)) = &self.mail_limit else {
            return Ok(None);
        };
        let now = self.ports.clock.now();
        let key = format!("mail:{}", TokenHash::of(address).as_str());
        let count = limiter.hit(&key, MAIL_WINDOW, now).await?;
        Ok((count.count > *per_hour).then(|| retry_after(&count, now)))
    }
}
