use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::{
    AccessChanges, DisplayName, Email, Password, PasswordHash, PasswordVerification, User, UserId,
};
use crate::audit::AuditEvent;
use crate::common::{Page, PageRequest, StorageError};
use crate::session::SessionId;

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another user has this e-mail address (compared case-insensitively).
    #[error("e-mail address is taken")]
    EmailTaken,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a new password hash ends along with the old one
/// ([`UserRepository::update_password_hash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    /// Nothing: the same password, hashed again with the current parameters.
    Rehash,
    /// A new password: every session of the user but `keep` (the caller's,
    /// when the user changed it themselves) is revoked, every outstanding
    /// password-reset link is used up, and every pending log-in challenge
    /// (`mfa_token`, which stands for the old password) is dropped.
    NewPassword {
        /// The session that stays.
        keep: Option<SessionId>,
    },
}

/// Where users are kept.
///
/// # Errors
/// Every method returns [`StorageError::Unavailable`] when the store cannot be
/// reached and [`StorageError::Unexpected`] for anything else. `insert`
/// returns [`CreateUserError::EmailTaken`] when the address is in use, also
/// when two inserts race: implementations rely on a unique constraint, never
/// on a read before the write.
///
/// The methods that take an [`AuditEvent`] write it in the same transaction
/// as the change it records: when the change fails or changes nothing, no
/// event is stored, and a failure to store the event fails the change.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user, and `audit` with it.
    async fn insert(&self, user: &User, audit: &AuditEvent) -> Result<(), CreateUserError>;

    /// The user with this id, if any.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError>;

    /// The user with this (normalised) e-mail address, if any.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StorageError>;

    /// Replaces a user's password hash, stores `audit` with it (none for
    /// a transparent upgrade of the hash's parameters) and, for a new
    /// password, revokes the user's sessions, uses up their outstanding
    /// reset links and drops their pending MFA challenges, all in one
    /// transaction: a new password never takes
    /// effect while the sessions it should end stay live. Returns how many
    /// sessions were revoked, or `None`, storing nothing, when the user is
    /// gone.
    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        updated_at: DateTime<Utc>,
        audit: Option<AuditEvent>,
        change: PasswordChange,
    ) -> Result<Option<u64>, StorageError>;

    /// A page of users, newest first, optionally only those whose address
    /// starts with `email_prefix` (already normalised to lower case).
    async fn list(
        &self,
        page: PageRequest,
        email_prefix: Option<String>,
    ) -> Result<Page<User>, StorageError>;

    /// Applies `changes` to the user's row as it is once locked, and stamps
    /// `updated_at`. A change that would leave no active administrator
    /// (disabling or demoting the last one) writes nothing and answers
    /// [`AccessUpdate::LastAdmin`]. The read, the check and the write happen
    /// in one transaction, also against concurrent changes from other
    /// instances. When written, `audit` is stored in that transaction with
    /// the fields changed added to its details
    /// ([`AuditEvent::with_access_changes`] of the row as locked and as
    /// written), unless nothing changed: then no event is stored. Disabling
    /// an active user revokes every session of theirs in the same
    /// transaction.
    async fn update_access(
        &self,
        id: UserId,
        changes: AccessChanges,
        updated_at: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<AccessUpdate, StorageError>;

    /// Sets (or clears) a user's display name. Returns `false` when the
    /// user is gone.
    async fn update_display_name(
        &self,
        id: UserId,
        display_name: Option<DisplayName>,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Marks a user's e-mail address as verified, and stores `audit` with
    /// it. Returns `false`, storing nothing, when the user is gone.
    async fn set_email_verified(
        &self,
        id: UserId,
        updated_at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError>;

    /// Deletes a user; their sessions, refresh tokens and projects go with
    /// them (foreign keys cascade), while their audit events stay. Stores
    /// `audit` in the same transaction. Returns `false`, storing nothing,
    /// when there was none.
    async fn delete(&self, id: UserId, audit: &AuditEvent) -> Result<bool, StorageError>;
}

/// The outcome of [`UserRepository::update_access`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessUpdate {
    /// Written.
    Updated {
        /// The user before the change.
        before: Box<User>,
        /// The user as written.
        after: Box<User>,
    },
    /// No such user.
    NotFound,
    /// Refused: no other active administrator exists.
    LastAdmin,
}

/// Why hashing or verifying a password failed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot is busy and the wait queue is full; the caller should
    /// answer "try again later" rather than pile up more work.
    #[error("password hashing capacity exhausted")]
    Busy,
    /// Anything else (a malformed stored hash, a worker that died).
    #[error("password hashing failed")]
    Unexpected(#[source] anyhow::Error),
}

/// Hashes and verifies passwords with a slow, memory-hard function.
///
/// Implementations must not block the caller's async executor: the work runs
/// elsewhere, and at most a bounded amount of it is queued.
///
/// # Errors
/// [`HashError::Busy`] when the bounded queue is full; [`HashError::Unexpected`]
/// otherwise. A stored hash that cannot be parsed is `Unexpected`, not a
/// mismatch.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password with the current parameters and a fresh salt.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;

    /// Checks a presented password against a stored hash, and tells whether
    /// the hash should be upgraded to the current parameters.
    async fn verify(
        &self,
        candidate: &SecretString,
        hash: &PasswordHash,
    ) -> Result<PasswordVerification, HashError>;
}
