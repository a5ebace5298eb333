//! The repositories, with the cache read on the hot path and invalidated by
//! every write that changes what a token may do.

use std::sync::Arc;

use async_trait::async_trait;
use auth_domain::audit::AuditEvent;
use auth_domain::common::{Page, PageRequest, StorageError, TokenHash};
use auth_domain::mfa::{SealedSecret, SecondFactor, SecondFactorRepository};
use auth_domain::session::{
    RefreshToken, RefreshTokenDraft, RefreshTokenId, Session, SessionId, SessionRepository,
};
use auth_domain::user::{
    AccessChanges, AccessUpdate, CreateUserError, DisplayName, Email, PasswordChange, PasswordHash,
    User, UserId, UserRepository,
};
use chrono::{DateTime, Utc};

use super::{Invalidation, SessionCache};

/// A [`SessionRepository`] that answers [`find_with_user`] from the cache
/// when it can, and invalidates on every revocation.
///
/// [`find_with_user`]: SessionRepository::find_with_user
#[derive(Debug)]
pub struct CachedSessions<R> {
    inner: R,
    cache: Arc<SessionCache>,
}

impl<R> CachedSessions<R> {
    /// `inner`, behind `cache`.
    pub fn new(inner: R, cache: Arc<SessionCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl<R: SessionRepository> SessionRepository for CachedSessions<R> {
    async fn insert<'a>(
        &self,
        session: &Session,
        token: &RefreshToken,
        event: Option<&'a AuditEvent>,
    ) -> Result<(), StorageError> {
        self.inner.insert(session, token, event).await
    }

    async fn find_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StorageError> {
        if let Some(hit) = self.cache.get(id) {
            return Ok(Some(hit));
        }
        let epoch = self.cache.epoch();
        let found = self.inner.find_with_user(id).await?;
        if let Some((session, user)) = &found {
            self.cache.store(epoch, session.clone(), user.clone());
        }
        Ok(found)
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(RefreshToken, Session, User)>, StorageError> {
        self.inner.find_refresh_token(hash).await
    }

    async fn rotate(
        &self,
        used: RefreshTokenId,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.inner.rotate(used, replacement, now).await
    }

    async fn rotate_live(
        &self,
        used: &TokenHash,
        replacement: &RefreshTokenDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>, StorageError> {
        self.inner.rotate_live(used, replacement, now).await
    }

    async fn supersede(
        &self,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.inner.supersede(replacement, now).await
    }

    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let result = self.inner.revoke(user, id, now).await;
        if !matches!(result, Ok(false)) {
            self.cache.invalidate(Invalidation::Session(id)).await;
        }
        result
    }

    async fn revoke_all(&self, user: UserId, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let result = self.inner.revoke_all(user, now).await;
        self.cache.invalidate(Invalidation::User(user)).await;
        result
    }

    async fn revoke_all_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let result = self.inner.revoke_all_except(user, keep, now).await;
        self.cache.invalidate(Invalidation::User(user)).await;
        result
    }

    async fn list_live(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StorageError> {
        self.inner.list_live(user, now).await
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.inner.purge(now).await
    }
}

/// A [`UserRepository`] that invalidates a user's cached sessions whenever
/// the user changes, so that a cached pair never shows an old role, state
/// or profile.
#[derive(Debug)]
pub struct CachedUsers<R> {
    inner: R,
    cache: Arc<SessionCache>,
}

impl<R> CachedUsers<R> {
    /// `inner`, invalidating `cache`.
    pub fn new(inner: R, cache: Arc<SessionCache>) -> Self {
        Self { inner, cache }
    }

    /// Invalidates after a write, also a failed one: a write whose answer
    /// was lost may still have committed.
    async fn changed<T>(
        &self,
        id: UserId,
        result: Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.cache.invalidate(Invalidation::User(id)).await;
        result
    }
}

#[async_trait]
impl<R: UserRepository> UserRepository for CachedUsers<R> {
    async fn insert(&self, user: &User, audit: &AuditEvent) -> Result<(), CreateUserError> {
        self.inner.insert(user, audit).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.inner.find_by_id(id).await
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        self.inner.find_by_email(email).await
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        updated_at: DateTime<Utc>,
        audit: Option<AuditEvent>,
        change: PasswordChange,
    ) -> Result<Option<u64>, StorageError> {
        let result = self
            .inner
            .update_password_hash(id, hash, updated_at, audit, change)
            .await;
        self.changed(id, result).await
    }

    async fn list(
        &self,
        page: PageRequest,
        email_prefix: Option<String>,
    ) -> Result<Page<User>, StorageError> {
        self.inner.list(page, email_prefix).await
    }

    async fn update_access(
        &self,
        id: UserId,
        changes: AccessChanges,
        updated_at: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<AccessUpdate, StorageError> {
        let result = self
            .inner
            .update_access(id, changes, updated_at, audit)
            .await;
        self.changed(id, result).await
    }

    async fn update_display_name(
        &self,
        id: UserId,
        display_name: Option<DisplayName>,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let result = self
            .inner
            .update_display_name(id, display_name, updated_at)
            .await;
        self.changed(id, result).await
    }

    async fn set_email_verified(
        &self,
        id: UserId,
        updated_at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let result = self.inner.set_email_verified(id, updated_at, audit).await;
        self.changed(id, result).await
    }

    async fn delete(&self, id: UserId, audit: &AuditEvent) -> Result<bool, StorageError> {
        let result = self.inner.delete(id, audit).await;
        self.changed(id, result).await
    }
}

/// A [`SecondFactorRepository`] that invalidates a user's cached sessions
/// when their MFA is turned on or off (the cached user carries
/// `mfa_enabled`).
#[derive(Debug)]
pub struct CachedSecondFactors<R> {
    inner: R,
    cache: Arc<SessionCache>,
}

impl<R> CachedSecondFactors<R> {
    /// `inner`, invalidating `cache`.
    pub fn new(inner: R, cache: Arc<SessionCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl<R: SecondFactorRepository> SecondFactorRepository for CachedSecondFactors<R> {
    async fn find(&self, user: UserId) -> Result<Option<SecondFactor>, StorageError> {
        self.inner.find(user).await
    }

    async fn start_enrolment(
        &self,
        user: UserId,
        secret: &SealedSecret,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.inner.start_enrolment(user, secret, now).await
    }

    async fn enable(
        &self,
        user: UserId,
        secret: &SealedSecret,
        step: u64,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let result = self
            .inner
            .enable(user, secret, step, recovery_codes, now, audit)
            .await;
        self.cache.invalidate(Invalidation::User(user)).await;
        result
    }

    async fn accept_step(&self, user: UserId, step: u64) -> Result<bool, StorageError> {
        self.inner.accept_step(user, step).await
    }

    async fn consume_recovery_code(
        &self,
        user: UserId,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.inner.consume_recovery_code(user, hash, now).await
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        self.inner
            .replace_recovery_codes(user, recovery_codes, now, audit)
            .await
    }

    async fn disable(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let result = self.inner.disable(user, now, audit).await;
        self.cache.invalidate(Invalidation::User(user)).await;
        result
    }

    async fn any_enabled(&self) -> Result<bool, StorageError> {
        self.inner.any_enabled().await
    }
}
