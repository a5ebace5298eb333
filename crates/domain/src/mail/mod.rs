//! Mail: the outgoing-message port and the one-time action tokens sent by
//! mail (e-mail verification, password reset).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::common::{StorageError, TokenHash};
use crate::user::{Email, UserId};

/// A plain-text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The text/plain body.
    pub text: String,
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
#[error("mail could not be sent")]
pub struct MailError(#[source] pub anyhow::Error);

/// Sends mail.
///
/// # Errors
/// [`MailError`] when the message could not be handed to the mail system.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message.
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Proves the user owns their e-mail address (TTL 24 h).
    VerifyEmail,
    /// Lets the user set a new password (TTL 1 h).
    ResetPassword,
}

impl TokenPurpose {
    /// The storage name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// A single-use token sent by mail; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionToken {
    /// Stable id.
    pub id: Uuid,
    /// Whose token it is.
    pub user_id: UserId,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// SHA-256 of the token.
    pub hash: TokenHash,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Where action tokens are kept.
///
/// # Errors
/// [`StorageError::Unavailable`] when the store cannot be reached,
/// [`StorageError::Unexpected`] otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ActionTokenRepository: Send + Sync {
    /// Stores a new token and, in the same transaction, marks the user's
    /// earlier unused tokens of the same purpose used: only the newest link
    /// works.
    async fn insert(&self, token: &ActionToken) -> Result<(), StorageError>;

    /// Marks every unused token of `user` for `purpose` used at `now` (after
    /// a password change or reset, every outstanding reset link dies);
    /// returns how many.
    async fn invalidate(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError>;

    /// The unused, unexpired token with this hash and purpose.
    async fn find_valid(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<ActionToken>, StorageError>;

    /// Marks the token used, once: `false` when it was used already (a
    /// concurrent request won) or expired.
    async fn consume(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError>;

    /// Deletes tokens that expired before `before`, used or not.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError>;
}
