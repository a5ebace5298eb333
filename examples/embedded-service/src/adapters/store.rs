//! Users, sessions, refresh tokens and mailed action tokens, in memory.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use anyhow::anyhow;
use async_trait::async_trait;
use auth_domain::audit::{AuditEvent, AuditFilter, AuditLog};
use auth_domain::common::{Cursor, Page, PageRequest, StorageError, TokenHash};
use auth_domain::recovery::{ActionToken, ActionTokenRepository, TokenPurpose};
use auth_domain::session::{
    RefreshToken, RefreshTokenDraft, RefreshTokenId, Session, SessionId, SessionRepository,
};
use auth_domain::user::{
    AccessChanges, AccessUpdate, CreateUserError, DisplayName, Email, PasswordChange, PasswordHash,
    Role, User, UserId, UserRepository,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::poisoned;

/// [`UserRepository`], [`SessionRepository`], [`ActionTokenRepository`] and
/// [`AuditLog`] on maps behind one lock.
///
/// The lock plays the part of the database's transactions: every method
/// takes it once, checks everything a constraint would check before it
/// writes anything, and so either applies all of its change or none of it.
/// Concurrent calls run one after the other, which is what the ports ask of
/// `rotate`, `supersede` and `update_access`. The maps model the schema of
/// auth-infra's migrations: a unique index on e-mail addresses and on token
/// hashes, at most one live refresh token per session, foreign keys that
/// refuse rows for missing parents and cascade when a user or session is
/// deleted.
///
/// Everything lives in this process and is gone when it exits; one instance
/// per process, shared through `Arc`.
#[derive(Default)]
pub struct InMemoryStore {
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("InMemoryStore");
        if let Ok(tables) = self.tables.lock() {
            out.field("users", &tables.users.len())
                .field("sessions", &tables.sessions.len())
                .field("refresh_tokens", &tables.refresh_tokens.len())
                .field("action_tokens", &tables.action_tokens.len());
        }
        out.finish_non_exhaustive()
    }
}

impl InMemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The tables, for one atomic read or change. A lock poisoned by a panic
    /// in the middle of a change may guard half a change: refused.
    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StorageError> {
        self.tables.lock().map_err(poisoned)
    }
}

/// A mailed token and when it was used.
#[derive(Debug, Clone)]
struct StoredActionToken {
    token: ActionToken,
    used_at: Option<DateTime<Utc>>,
}

/// Which live token of a session a new refresh token displaces in the same
/// change, for the one-live-token rule.
#[derive(Debug, Clone, Copy)]
enum Displaces {
    /// This one, rotated in the same change.
    Token(RefreshTokenId),
    /// Every live token of the session, superseded in the same change.
    All,
}

/// One map per table of the SQL schema, and the unique indexes looked up by
/// value.
#[derive(Debug, Default)]
struct Tables {
    users: HashMap<UserId, User>,
    /// The unique index on the normalised address.
    emails: HashMap<String, UserId>,
    sessions: HashMap<SessionId, Session>,
    refresh_tokens: HashMap<RefreshTokenId, RefreshToken>,
    /// The unique index on refresh-token hashes.
    refresh_hashes: HashMap<TokenHash, RefreshTokenId>,
    action_tokens: HashMap<Uuid, StoredActionToken>,
    /// The audit trail, in insertion order; no foreign key, so a deleted
    /// user's events stay.
    audit_events: Vec<AuditEvent>,
}

fn constraint(message: &str) -> StorageError {
    StorageError::Unexpected(anyhow!("constraint violated: {message}"))
}

impl Tables {
    /// The session if it exists and is not revoked (expiry is the
    /// use-cases' business, as in the SQL adapter).
    fn unrevoked_session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id).filter(|s| s.revoked_at.is_none())
    }

    /// What the schema checks before a refresh token is stored: a new id
    /// and hash, an existing session, and no second live token in it.
    fn check_new_token(
        &self,
        token: &RefreshToken,
        displaces: Displaces,
    ) -> Result<(), StorageError> {
        if self.refresh_tokens.contains_key(&token.id) {
            return Err(constraint("duplicate refresh token id"));
        }
        if self.refresh_hashes.contains_key(&token.hash) {
            return Err(constraint("duplicate refresh token hash"));
        }
        if !self.sessions.contains_key(&token.session_id) {
            return Err(constraint("refresh token for a missing session"));
        }
        let second_live = token.rotated_at.is_none()
            && self.refresh_tokens.values().any(|other| {
                other.session_id == token.session_id
                    && other.rotated_at.is_none()
                    && match displaces {
                        Displaces::Token(id) => other.id != id,
                        Displaces::All => false,
                    }
            });
        if second_live {
            return Err(constraint("a session has one live refresh token"));
        }
        Ok(())
    }

    fn put_token(&mut self, token: &RefreshToken) {
        self.refresh_hashes.insert(token.hash.clone(), token.id);
        self.refresh_tokens.insert(token.id, token.clone());
    }

    fn remove_token(&mut self, id: RefreshTokenId) {
        if let Some(token) = self.refresh_tokens.remove(&id) {
            self.refresh_hashes.remove(&token.hash);
        }
    }

    /// Extends the session to the new token's expiry.
    fn extend(&mut self, token: &RefreshToken, now: DateTime<Utc>) {
        if let Some(session) = self.sessions.get_mut(&token.session_id) {
            session.last_used_at = now;
            session.expires_at = token.expires_at;
        }
    }

    /// Deletes a session and, as the foreign key cascades, its tokens.
    fn remove_session(&mut self, id: SessionId) {
        self.sessions.remove(&id);
        let tokens: Vec<_> = self
            .refresh_tokens
            .values()
            .filter(|t| t.session_id == id)
            .map(|t| t.id)
            .collect();
        for token in tokens {
            self.remove_token(token);
        }
    }

    /// Revokes the sessions of `user` that `which` selects and are not
    /// revoked yet; returns how many.
    fn revoke_where(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
        which: impl Fn(&Session) -> bool,
    ) -> u64 {
        let mut revoked = 0;
        for session in self.sessions.values_mut() {
            if session.user_id == user && session.revoked_at.is_none() && which(session) {
                session.revoked_at = Some(now);
                revoked += 1;
            }
        }
        revoked
    }

    /// Marks the user's unused tokens for `purpose` used at `now`.
    fn invalidate(&mut self, user: UserId, purpose: TokenPurpose, now: DateTime<Utc>) -> u64 {
        let mut invalidated = 0;
        for stored in self.action_tokens.values_mut() {
            if stored.token.user_id == user
                && stored.token.purpose == purpose
                && stored.used_at.is_none()
            {
                stored.used_at = Some(now);
                invalidated += 1;
            }
        }
        invalidated
    }

    /// Applies `change` to a user if they exist; `false` when they do not.
    fn update_user(
        &mut self,
        id: UserId,
        updated_at: DateTime<Utc>,
        change: impl FnOnce(&mut User),
    ) -> bool {
        match self.users.get_mut(&id) {
            Some(user) => {
                change(user);
                user.updated_at = updated_at;
                true
            }
            None => false,
        }
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[async_trait]
impl UserRepository for InMemoryStore {
    async fn insert(&self, user: &User, audit: &AuditEvent) -> Result<(), CreateUserError> {
        let mut tables = self.lock()?;
        // The unique index, checked and written under the same lock: two
        // racing sign-ups cannot both pass.
        if tables.emails.contains_key(user.email.as_str()) {
            return Err(CreateUserError::EmailTaken);
        }
        if tables.users.contains_key(&user.id) {
            return Err(constraint("duplicate user id").into());
        }
        tables
            .emails
            .insert(user.email.as_str().to_owned(), user.id);
        tables.users.insert(user.id, user.clone());
        tables.audit_events.push(audit.clone());
        Ok(())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, StorageError> {
        Ok(self.lock()?.users.get(&id).cloned())
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        let tables = self.lock()?;
        Ok(tables
            .emails
            .get(email.as_str())
            .and_then(|id| tables.users.get(id))
            .cloned())
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        updated_at: DateTime<Utc>,
        audit: Option<AuditEvent>,
        change: PasswordChange,
    ) -> Result<Option<u64>, StorageError> {
        let mut tables = self.lock()?;
        let changed = tables.update_user(id, updated_at, |user| {
            user.password_hash = hash.clone();
        });
        if !changed {
            return Ok(None);
        }
        // Under the same lock: the sessions and reset links a new password
        // ends go with it.
        let revoked = match change {
            PasswordChange::Rehash => 0,
            PasswordChange::NewPassword { keep } => {
                tables.invalidate(id, TokenPurpose::ResetPassword, updated_at);
                tables.revoke_where(id, updated_at, |s| Some(s.id) != keep)
            }
        };
        tables.audit_events.extend(audit);
        Ok(Some(revoked))
    }

    async fn list(
        &self,
        page: PageRequest,
        email_prefix: Option<String>,
    ) -> Result<Page<User>, StorageError> {
        let tables = self.lock()?;
        let after = |user: &User| match page.after {
            // Strictly older than the cursor in `(created_at, id)` order,
            // as the SQL adapter's keyset condition.
            Some(cursor) => {
                user.created_at < cursor.created_at
                    || (user.created_at == cursor.created_at && user.id.0 < cursor.id)
            }
            None => true,
        };
        let mut rows: Vec<User> = tables
            .users
            .values()
            .filter(|user| {
                email_prefix
                    .as_deref()
                    .is_none_or(|prefix| user.email.as_str().starts_with(prefix))
            })
            .filter(|user| after(user))
            .cloned()
            .collect();
        rows.sort_unstable_by_key(|user| Reverse((user.created_at, user.id)));
        // One row more than the page holds tells whether another follows.
        rows.truncate(usize::try_from(page.limit.saturating_add(1)).unwrap_or(usize::MAX));
        Ok(Page::from_rows(rows, page.limit, |user| Cursor {
            created_at: user.created_at,
            id: user.id.0,
        }))
    }

    async fn update_access(
        &self,
        id: UserId,
        changes: AccessChanges,
        updated_at: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<AccessUpdate, StorageError> {
        let mut tables = self.lock()?;
        let Some(before) = tables.users.get(&id).cloned() else {
            return Ok(AccessUpdate::NotFound);
        };
        let after = User {
            is_active: changes.is_active.unwrap_or(before.is_active),
            role: changes.role.unwrap_or(before.role),
            updated_at,
            ..before.clone()
        };
        let active_admin = |user: &User| user.is_active && user.role == Role::Admin;
        if active_admin(&before) && !active_admin(&after) {
            let others = tables
                .users
                .values()
                .any(|user| user.id != id && active_admin(user));
            if !others {
                return Ok(AccessUpdate::LastAdmin);
            }
        }
        tables.users.insert(id, after.clone());
        if before.is_active && !after.is_active {
            // Under the same lock: a disabled user's sessions end with it.
            tables.revoke_where(id, updated_at, |_| true);
        }
        if let Some(event) = audit {
            tables
                .audit_events
                .push(event.with_access_changes(&before, &after));
        }
        Ok(AccessUpdate::Updated {
            before: Box::new(before),
            after: Box::new(after),
        })
    }

    async fn update_display_name(
        &self,
        id: UserId,
        display_name: Option<DisplayName>,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        Ok(self.lock()?.update_user(id, updated_at, |user| {
            user.display_name = display_name;
        }))
    }

    async fn set_email_verified(
        &self,
        id: UserId,
        updated_at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let mut tables = self.lock()?;
        let changed = tables.update_user(id, updated_at, |user| {
            user.email_verified = true;
        });
        if changed {
            tables.audit_events.push(audit.clone());
        }
        Ok(changed)
    }

    async fn delete(&self, id: UserId, audit: &AuditEvent) -> Result<bool, StorageError> {
        let mut tables = self.lock()?;
        let Some(user) = tables.users.remove(&id) else {
            return Ok(false);
        };
        tables.emails.remove(user.email.as_str());
        // The foreign keys cascade: sessions with their tokens, and mailed
        // tokens. (Projects are not kept here.)
        let sessions: Vec<_> = tables
            .sessions
            .values()
            .filter(|s| s.user_id == id)
            .map(|s| s.id)
            .collect();
        for session in sessions {
            tables.remove_session(session);
        }
        tables.action_tokens.retain(|_, t| t.token.user_id != id);
        tables.audit_events.push(audit.clone());
        Ok(true)
    }
}

#[async_trait]
impl AuditLog for InMemoryStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), StorageError> {
        self.lock()?.audit_events.push(event.clone());
        Ok(())
    }

    async fn list(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, StorageError> {
        let tables = self.lock()?;
        let mut rows: Vec<AuditEvent> = tables
            .audit_events
            .iter()
            .filter(|e| filter.user_id.is_none_or(|id| e.user_id == Some(id)))
            .filter(|e| filter.kind.is_none_or(|kind| e.kind == kind))
            .filter(|e| match page.after {
                Some(cursor) => {
                    e.created_at < cursor.created_at
                        || (e.created_at == cursor.created_at && e.id < cursor.id)
                }
                None => true,
            })
            .cloned()
            .collect();
        rows.sort_unstable_by_key(|e| Reverse((e.created_at, e.id)));
        rows.truncate(usize::try_from(page.limit.saturating_add(1)).unwrap_or(usize::MAX));
        Ok(Page::from_rows(rows, page.limit, |e| Cursor {
            created_at: e.created_at,
            id: e.id,
        }))
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let mut tables = self.lock()?;
        let was = tables.audit_events.len();
        tables.audit_events.retain(|e| e.created_at >= before);
        Ok(count(was - tables.audit_events.len()))
    }
}

#[async_trait]
impl SessionRepository for InMemoryStore {
    async fn insert<'a>(
        &self,
        session: &Session,
        token: &RefreshToken,
        event: Option<&'a AuditEvent>,
    ) -> Result<(), StorageError> {
        let mut tables = self.lock()?;
        if !tables.users.contains_key(&session.user_id) {
            return Err(constraint("session for a missing user"));
        }
        if tables.sessions.contains_key(&session.id) {
            return Err(constraint("duplicate session id"));
        }
        if token.session_id != session.id {
            return Err(constraint("first refresh token of another session"));
        }
        if tables.refresh_tokens.contains_key(&token.id)
            || tables.refresh_hashes.contains_key(&token.hash)
        {
            return Err(constraint("duplicate refresh token"));
        }
        tables.sessions.insert(session.id, session.clone());
        tables.put_token(token);
        tables.audit_events.extend(event.cloned());
        Ok(())
    }

    async fn find_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StorageError> {
        let tables = self.lock()?;
        Ok(tables.sessions.get(&id).and_then(|session| {
            let user = tables.users.get(&session.user_id)?;
            Some((session.clone(), user.clone()))
        }))
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(RefreshToken, Session, User)>, StorageError> {
        let tables = self.lock()?;
        let found = || {
            let token = tables
                .refresh_tokens
                .get(tables.refresh_hashes.get(hash)?)?;
            let session = tables.sessions.get(&token.session_id)?;
            let user = tables.users.get(&session.user_id)?;
            Some((token.clone(), session.clone(), user.clone()))
        };
        Ok(found())
    }

    async fn rotate(
        &self,
        used: RefreshTokenId,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let mut tables = self.lock()?;
        if tables.unrevoked_session(replacement.session_id).is_none() {
            return Ok(false);
        }
        // The compare-and-set: only a token nobody rotated yet.
        let unrotated = tables
            .refresh_tokens
            .get(&used)
            .is_some_and(|t| t.rotated_at.is_none());
        if !unrotated {
            return Ok(false);
        }
        tables.check_new_token(replacement, Displaces::Token(used))?;
        if let Some(token) = tables.refresh_tokens.get_mut(&used) {
            token.rotated_at = Some(now);
        }
        tables.put_token(replacement);
        tables.extend(replacement, now);
        Ok(true)
    }

    async fn rotate_live(
        &self,
        used: &TokenHash,
        replacement: &RefreshTokenDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>, StorageError> {
        // One lock for the lookup and the rotation: no request can come
        // between them.
        let mut tables = self.lock()?;
        let live = || {
            let token = tables
                .refresh_tokens
                .get(tables.refresh_hashes.get(used)?)?;
            let session = tables.sessions.get(&token.session_id)?;
            let user = tables.users.get(&session.user_id)?;
            let live = token.rotated_at.is_none()
                && now < token.expires_at
                && session.is_live(now)
                && user.is_active;
            live.then_some((token.id, session.id))
        };
        let Some((token, session)) = live() else {
            return Ok(None);
        };
        let replacement = replacement.in_session(session);
        tables.check_new_token(&replacement, Displaces::Token(token))?;
        if let Some(token) = tables.refresh_tokens.get_mut(&token) {
            token.rotated_at = Some(now);
        }
        tables.put_token(&replacement);
        tables.extend(&replacement, now);
        let found = tables.sessions.get(&session).and_then(|session| {
            let user = tables.users.get(&session.user_id)?;
            Some((session.clone(), user.clone()))
        });
        Ok(found)
    }

    async fn supersede(
        &self,
        replacement: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let mut tables = self.lock()?;
        if tables.unrevoked_session(replacement.session_id).is_none() {
            return Ok(false);
        }
        tables.check_new_token(replacement, Displaces::All)?;
        for token in tables.refresh_tokens.values_mut() {
            if token.session_id == replacement.session_id && token.rotated_at.is_none() {
                token.rotated_at = Some(now);
            }
        }
        tables.put_token(replacement);
        tables.extend(replacement, now);
        Ok(true)
    }

    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        Ok(self.lock()?.revoke_where(user, now, |s| s.id == id) == 1)
    }

    async fn revoke_all(&self, user: UserId, now: DateTime<Utc>) -> Result<u64, StorageError> {
        Ok(self.lock()?.revoke_where(user, now, |_| true))
    }

    async fn revoke_all_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        Ok(self.lock()?.revoke_where(user, now, |s| s.id != keep))
    }

    async fn list_live(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StorageError> {
        let mut live: Vec<Session> = self
            .lock()?
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.revoked_at.is_none() && s.expires_at > now)
            .cloned()
            .collect();
        live.sort_unstable_by_key(|session| Reverse((session.created_at, session.id)));
        Ok(live)
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let mut tables = self.lock()?;
        let expired: Vec<_> = tables
            .refresh_tokens
            .values()
            .filter(|t| t.expires_at <= now)
            .map(|t| t.id)
            .collect();
        for token in expired {
            tables.remove_token(token);
        }
        let ended: Vec<_> = tables
            .sessions
            .values()
            .filter(|s| s.expires_at <= now || s.revoked_at.is_some())
            .map(|s| s.id)
            .collect();
        for session in &ended {
            tables.remove_session(*session);
        }
        Ok(count(ended.len()))
    }
}

#[async_trait]
impl ActionTokenRepository for InMemoryStore {
    async fn insert(&self, token: &ActionToken) -> Result<(), StorageError> {
        let mut tables = self.lock()?;
        if !tables.users.contains_key(&token.user_id) {
            return Err(constraint("action token for a missing user"));
        }
        if tables.action_tokens.contains_key(&token.id)
            || tables
                .action_tokens
                .values()
                .any(|t| t.token.hash == token.hash)
        {
            return Err(constraint("duplicate action token"));
        }
        // Only the newest link works.
        tables.invalidate(token.user_id, token.purpose, token.created_at);
        tables.action_tokens.insert(
            token.id,
            StoredActionToken {
                token: token.clone(),
                used_at: None,
            },
        );
        Ok(())
    }

    async fn invalidate(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        Ok(self.lock()?.invalidate(user, purpose, now))
    }

    async fn find_valid(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<ActionToken>, StorageError> {
        Ok(self
            .lock()?
            .action_tokens
            .values()
            .find(|t| {
                t.token.hash == *hash
                    && t.token.purpose == purpose
                    && t.used_at.is_none()
                    && t.token.expires_at > now
            })
            .map(|t| t.token.clone()))
    }

    async fn consume(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let mut tables = self.lock()?;
        match tables.action_tokens.get_mut(&id) {
            Some(stored) if stored.used_at.is_none() && stored.token.expires_at > now => {
                stored.used_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let mut tables = self.lock()?;
        let len = tables.action_tokens.len();
        tables
            .action_tokens
            .retain(|_, t| t.token.expires_at >= before);
        Ok(count(len - tables.action_tokens.len()))
    }
}
