//! Limits on password checks (NIST SP 800-63B §5.2.2).
//!
//! Every password check (log-in, password change, account deletion) goes
//! through one [`PasswordGuard`], which reserves the attempt in the shared
//! counter store *before* the hash is verified: one atomic increment per
//! key, so however many attempts arrive at once, at most the configured
//! number is ever checked in a window, and whatever exceeds it is refused
//! without hashing.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;

use crate::common::{Clock, RateLimiter, StorageError, TokenHash, WindowCount, rate_limit_subject};
use crate::user::{HashError, PasswordHash, PasswordHasher, PasswordVerification};

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

/// Why a password was not checked.
#[derive(Debug)]
pub enum CheckRefused {
    /// A limit is reached; retry after this many seconds.
    RateLimited(u64),
    /// The counter store failed.
    Storage(StorageError),
    /// Hashing capacity is exhausted, or the hasher failed.
    Hash(HashError),
}

impl From<StorageError> for CheckRefused {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

/// The counter keys of one password check. Keys are hashed: fixed length
/// whatever the input, and no addresses in the counter table.
#[derive(Debug)]
pub(crate) struct AttemptKeys {
    pub(crate) account: String,
    pub(crate) pair: Option<String>,
}

impl AttemptKeys {
    /// The keys for the account known by `account` (its normalised e-mail
    /// address) checked from `ip`.
    pub(crate) fn new(account: &str, ip: Option<&str>) -> Self {
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

/// Seconds until `window` ends, rounded up (a client retrying after a
/// truncated count of seconds would still land inside the window), and
/// never zero.
#[must_use]
pub fn retry_after(window: &WindowCount, now: DateTime<Utc>) -> u64 {
    let remaining = window.resets_at - now;
    let secs = remaining.num_seconds() + i64::from(remaining.subsec_nanos() > 0);
    u64::try_from(secs).unwrap_or(0).max(1)
}

/// Checks passwords within the limits. Shared by every use-case that checks
/// a password, so they all count against the same allowance: a stolen
/// access token gives no more guesses than the log-in form.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct PasswordGuard {
    hasher: Arc<dyn PasswordHasher>,
    limiter: Arc<dyn RateLimiter>,
    limits: LoginLimits,
    clock: Arc<dyn Clock>,
}

impl PasswordGuard {
    /// A guard verifying with `hasher` and counting with `limiter`.
    #[must_use]
    pub fn new(
        hasher: Arc<dyn PasswordHasher>,
        limiter: Arc<dyn RateLimiter>,
        limits: LoginLimits,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            hasher,
            limiter,
            limits,
            clock,
        }
    }

    /// Checks `candidate` against `hash` for the account known by `account`
    /// (its normalised e-mail address) from `ip`, counted before hashing.
    /// A match resets the pair and takes back the account's reservation; a
    /// check that never ran takes back both.
    ///
    /// # Errors
    /// [`CheckRefused::RateLimited`] past a limit, with nothing hashed;
    /// `Storage` when the counters cannot be reached; `Hash` when hashing
    /// capacity is exhausted.
    pub async fn check(
        &self,
        account: &str,
        ip: Option<&str>,
        candidate: &SecretString,
        hash: &PasswordHash,
    ) -> Result<PasswordVerification, CheckRefused> {
        self.check_password(account, ip, candidate, hash, true)
            .await
    }

    /// [`PasswordGuard::check`] for a password that is the first of two
    /// factors: a match takes back both reservations but resets nothing,
    /// so the pair's earlier failures (wrong codes included) still count
    /// until the second factor passes. Otherwise, knowing the password
    /// would reset the pair before every guess at the code, and only the
    /// account's larger allowance would bound those guesses.
    ///
    /// # Errors
    /// As [`PasswordGuard::check`].
    pub async fn check_first_of_two(
        &self,
        account: &str,
        ip: Option<&str>,
        candidate: &SecretString,
        hash: &PasswordHash,
    ) -> Result<PasswordVerification, CheckRefused> {
        self.check_password(account, ip, candidate, hash, false)
            .await
    }

    async fn check_password(
        &self,
        account: &str,
        ip: Option<&str>,
        candidate: &SecretString,
        hash: &PasswordHash,
        settles: bool,
    ) -> Result<PasswordVerification, CheckRefused> {
        let keys = AttemptKeys::new(account, ip);
        self.reserve(&keys).await?;
        match self.hasher.verify(candidate, hash).await {
            Ok(verification @ PasswordVerification::Match { .. }) => {
                if settles {
                    self.passed(&keys).await;
                } else {
                    self.release(keys.pair.as_deref()).await;
                    self.release(Some(&keys.account)).await;
                }
                Ok(verification)
            }
            Ok(PasswordVerification::Mismatch) => Ok(PasswordVerification::Mismatch),
            Err(error) => {
                self.release(keys.pair.as_deref()).await;
                self.release(Some(&keys.account)).await;
                Err(CheckRefused::Hash(error))
            }
        }
    }

    /// Checks a second factor (a one-time or recovery code) for the account
    /// known by `account` from `ip`, counted against the same allowance as
    /// passwords before `check` runs: past a limit `check` never runs. A
    /// code `check` accepts (`Ok(Some(_))`) resets the pair and takes back
    /// the account's reservation; a refused code (`Ok(None)`) stays counted;
    /// a check that failed (`Err(_)`) takes back both.
    ///
    /// # Errors
    /// [`CheckRefused::RateLimited`] past a limit, with `check` not run;
    /// `Storage` when the counters cannot be reached.
    pub(crate) async fn check_code<T, E>(
        &self,
        account: &str,
        ip: Option<&str>,
        check: impl Future<Output = Result<Option<T>, E>>,
    ) -> Result<Result<Option<T>, E>, CheckRefused> {
        let keys = AttemptKeys::new(account, ip);
        self.reserve(&keys).await?;
        let outcome = check.await;
        match &outcome {
            Ok(Some(_)) => self.passed(&keys).await,
            Ok(None) => {}
            Err(_) => {
                self.release(keys.pair.as_deref()).await;
                self.release(Some(&keys.account)).await;
            }
        }
        Ok(outcome)
    }

    /// Reserves one check. The pair is counted first, so an address over
    /// its own limit cannot also use up the account's allowance and lock
    /// its owner out everywhere.
    async fn reserve(&self, keys: &AttemptKeys) -> Result<(), CheckRefused> {
        let now = self.clock.now();
        let mut turns = Vec::with_capacity(2);
        if let Some(pair) = &keys.pair {
            turns.push((pair.as_str(), self.limits.max_pair_failures));
        }
        turns.push((keys.account.as_str(), self.limits.max_account_failures));
        let counts = self
            .limiter
            .hit_in_turn(&turns, self.limits.window, now)
            .await?;
        let over = counts
            .iter()
            .zip(&turns)
            .position(|(count, &(_, limit))| count.count > limit);
        match over {
            None if counts.len() == turns.len() => Ok(()),
            None => Err(CheckRefused::Storage(StorageError::Unexpected(
                anyhow::anyhow!("the limiter stopped counting within the limits"),
            ))),
            Some(at) => {
                if at > 0 {
                    // The account is over its limit: the pair's attempt
                    // never ran, so it does not count either.
                    self.release(keys.pair.as_deref()).await;
                }
                Err(CheckRefused::RateLimited(retry_after(&counts[at], now)))
            }
        }
    }

    /// A check passed: resets the pair and takes back the account's
    /// reservation, best-effort.
    async fn passed(&self, keys: &AttemptKeys) {
        if let Err(error) = self
            .limiter
            .reset_and_release(keys.pair.as_deref(), &keys.account)
            .await
        {
            tracing::warn!(error = %error, "could not settle the counts of a passed check");
        }
    }

    /// Best-effort: a store failure here must not turn an answer into a 503.
    async fn release(&self, key: Option<&str>) {
        let Some(key) = key else {
            return;
        };
        if let Err(error) = self.limiter.release(key).await {
            tracing::warn!(error = %error, "could not release a reserved password check");
        }
    }
}
