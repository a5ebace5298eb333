use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{RefreshToken, RefreshTokenDraft, RefreshTokenId, Session, SessionId};
use crate::audit::AuditEvent;
use crate::common::{StorageError, TokenHash};
use crate::user::{User, UserId};

/// Where sessions and their refresh-token families are kept.
///
/// # Errors
/// Every method returns [`StorageError::Unavailable`] when the store cannot be
/// reached and [`StorageError::Unexpected`] for anything else (including an
/// insert for a user that no longer exists).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session with its first refresh token and, when given,
    /// the audit event that records the sign-in, atomically.
    async fn insert<'a>(
        &self,
        session: &Session,
        token: &RefreshToken,
        event: Option<&'a AuditEvent>,
    ) -> Result<(), StorageError>;

    /// The session with this id together with its user, read in one lookup:
    /// this runs on every authenticated request.
    async fn find_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StorageError>;

    /// The refresh token with this hash, its session and its user.
    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(RefreshToken, Session, User)>, StorageError>;

    /// Atomically marks `used` as rotated at `now` (only if it is not rotated
    /// yet), stores `replacement` as the session's one live token and extends
    /// the session to `replacement.expires_at`, unless the session was
    /// revoked meanwhile. Returns `false`, changing nothing, when another
    /// request rotated `used` first or the session is revoked.
    ///
    /// Concurrent calls for one session must be serialised (lock the session
    /// row before the compare-and-set), so that of any number of racing
    /// rotations of one token exactly one returns `true`.
    async fn rotate(
        &self,
        used: RefreshTokenId,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// The hot path of a refresh: if the token with hash `used` is live at
    /// `now` (unrotated and unexpired, its session unrevoked and unexpired,
    /// its user active), marks it rotated at `now`, stores `replacement` as
    /// its session's one live token and extends the session to
    /// `replacement.expires_at`, atomically and serialised with every other
    /// write to the session's tokens, as [`SessionRepository::rotate`] is.
    /// Returns the session, as extended, and its user.
    ///
    /// `None`, changing nothing, in every other case: an unknown, expired or
    /// rotated token, a revoked or expired session, a disabled user, or a
    /// racing request that rotated the token first. The caller then reads
    /// the token ([`SessionRepository::find_refresh_token`]) to judge why.
    async fn rotate_live(
        &self,
        used: &TokenHash,
        replacement: &RefreshTokenDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>, StorageError>;

    /// Makes `replacement` the one live token of its (unrevoked) session:
    /// every other unrotated token of the session is marked rotated at
    /// `now` (superseded), `replacement` is stored and the session extended,
    /// atomically. `false`, changing nothing, when the session is revoked or
    /// gone.
    ///
    /// As with [`SessionRepository::rotate`], concurrent calls for one session
    /// are serialised, so a session never has two live tokens.
    async fn supersede(
        &self,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Revokes one session if `user` owns it and it is not revoked yet;
    /// `false` otherwise.
    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Revokes every unrevoked session of `user`, returning how many.
    async fn revoke_all(&self, user: UserId, now: DateTime<Utc>) -> Result<u64, StorageError>;

    /// Revokes every unrevoked session of `user` but `keep`, returning how
    /// many.
    async fn revoke_all_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError>;

    /// The live sessions of `user` at `now`, newest first.
    async fn list_live(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StorageError>;

    /// Deletes expired and revoked sessions and expired refresh tokens,
    /// returning how many sessions went.
    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StorageError>;
}
