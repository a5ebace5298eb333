use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::{MfaChallenge, SealedSecret, SecondFactor, TotpSecret};
use crate::audit::AuditEvent;
use crate::common::{StorageError, TokenHash};
use crate::user::UserId;

/// Where second factors and recovery codes are kept.
///
/// # Errors
/// Every method returns [`StorageError::Unavailable`] when the store cannot be
/// reached and [`StorageError::Unexpected`] for anything else. Each method is
/// one atomic step: a conditional write whose affected rows decide the
/// answer, never a read before the write.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SecondFactorRepository: Send + Sync {
    /// The user's factor, pending or enabled.
    async fn find(&self, user: UserId) -> Result<Option<SecondFactor>, StorageError>;

    /// Starts (or restarts) a pending enrolment with `secret`, replacing any
    /// earlier pending one; `false`, changing nothing, when the user's factor
    /// is enabled already.
    async fn start_enrolment(
        &self,
        user: UserId,
        secret: &SealedSecret,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Turns the pending enrolment sealed as `secret` on, with `step` as its
    /// last accepted step, stores `recovery_codes` (hashes) as the user's
    /// only ones, marks the user's MFA on and stores `audit` — in one
    /// transaction. `false`,
    /// changing nothing, when there is no such pending enrolment (another
    /// request confirmed it first, or it was restarted with a new secret).
    async fn enable(
        &self,
        user: UserId,
        secret: &SealedSecret,
        step: u64,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError>;

    /// Records `step` as the last accepted step of the user's enabled
    /// factor, only if it is later than the one stored (`UPDATE … WHERE
    /// last_step IS NULL OR last_step < step`): of any number of concurrent
    /// calls with one step, exactly one returns `true`.
    async fn accept_step(&self, user: UserId, step: u64) -> Result<bool, StorageError>;

    /// Marks the user's unused recovery code with this hash used, once:
    /// `false` when there is none (wrong, used, or the factor is off).
    async fn consume_recovery_code(
        &self,
        user: UserId,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Replaces every recovery code of the user's enabled factor with
    /// `recovery_codes`, atomically, and stores `audit` in the same
    /// transaction; `false`, changing nothing, when the factor is not
    /// enabled.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError>;

    /// Deletes the user's enabled factor and recovery codes and marks the
    /// user's MFA off, in one transaction, which also stores `audit`;
    /// `true` then. `false`, changing nothing, when no factor is enabled
    /// (an enrolment in progress stays).
    async fn disable(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError>;

    /// Whether any user has MFA on (production refuses to start without
    /// the key that opens their secrets).
    async fn any_enabled(&self) -> Result<bool, StorageError>;
}

/// Where log-in challenges (`mfa_token`s) are kept, as hashes.
///
/// # Errors
/// [`StorageError::Unavailable`] when the store cannot be reached,
/// [`StorageError::Unexpected`] otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MfaChallengeRepository: Send + Sync {
    /// Stores a new challenge.
    async fn insert(&self, challenge: &MfaChallenge) -> Result<(), StorageError>;

    /// The unused, unexpired challenge with this hash.
    async fn find_valid(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<MfaChallenge>, StorageError>;

    /// Marks the challenge used, once: `false` when it was used already (a
    /// concurrent request won) or expired.
    async fn consume(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError>;

    /// Makes a challenge that this caller consumed usable again: the code
    /// sent with it was refused, and its token stays good for another try
    /// until it expires.
    async fn release(&self, id: Uuid) -> Result<(), StorageError>;

    /// Deletes challenges that expired before `before`, used or not.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}

/// The one-time code arithmetic (RFC 6238 / RFC 4226: 6 digits, HMAC-SHA-1,
/// 30 s steps, one step of skew either way) and fresh random material.
///
/// # Errors
/// None: the arithmetic cannot fail, and an implementation that cannot reach
/// its entropy source panics rather than hand out weak secrets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait OneTimeCodes: Send + Sync {
    /// A fresh random secret (160 bits, RFC 4226's recommendation).
    fn new_secret(&self) -> TotpSecret;

    /// The secret in base32 (RFC 4648, no padding), as users type it.
    fn encode(&self, secret: &TotpSecret) -> SecretString;

    /// The `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
    /// URI of the secret.
    fn otpauth_uri(&self, secret: &TotpSecret, issuer: &str, account: &str) -> SecretString;

    /// The time step whose code `code` is at `now`, within the skew
    /// window; `None` when it matches none (or is not a code at all).
    fn matching_step(&self, secret: &TotpSecret, code: &str, now: DateTime<Utc>) -> Option<u64>;

    /// A fresh random recovery code of at least 80 bits, easy to type.
    fn new_recovery_code(&self) -> SecretString;
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[error("could not seal or open a second-factor secret")]
pub struct CipherError(#[source] pub anyhow::Error);

/// Encrypts TOTP secrets at rest with an authenticated cipher.
///
/// # Errors
/// [`CipherError`] when sealing fails, or when a sealed secret does not
/// open: tampered with, malformed, or sealed under another key.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretCipher: Send + Sync {
    /// Encrypts `secret` under a fresh nonce, bound to `user`.
    fn seal(&self, user: UserId, secret: &TotpSecret) -> Result<SealedSecret, CipherError>;

    /// Decrypts what [`SecretCipher::seal`] made for `user`.
    fn open(&self, user: UserId, sealed: &SealedSecret) -> Result<TotpSecret, CipherError>;
}
