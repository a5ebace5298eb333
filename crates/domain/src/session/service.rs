//! Session use-cases: refreshing, listing and revoking.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{ClientInfo, RefreshError, Session, SessionError, SessionId, SessionRepository};
use crate::audit::{AuditDetails, AuditEventType, Auditor, Origin};
use crate::auth::{IssuedTokens, SessionIssuer};
use crate::common::{Clock, TokenHash};
use crate::user::UserId;

/// Refreshing, listing and revoking sessions.
#[allow(missing_debug_implementations)]
pub struct SessionService {
    sessions: Arc<dyn SessionRepository>,
    issuer: SessionIssuer,
    clock: Arc<dyn Clock>,
    audit: Auditor,
}

impl SessionService {
    /// A service on `sessions`, issuing tokens with `issuer` and recording
    /// reuse, log-outs and revocations with `audit`.
    #[must_use]
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        issuer: SessionIssuer,
        clock: Arc<dyn Clock>,
        audit: Auditor,
    ) -> Self {
        Self {
            sessions,
            issuer,
            clock,
            audit,
        }
    }

    /// Records `kind` about `user`'s `session`, caused by `origin`.
    async fn record(
        &self,
        kind: AuditEventType,
        user: UserId,
        origin: &Origin,
        details: AuditDetails,
    ) {
        self.audit
            .record(self.audit.event(kind, Some(user), origin, details))
            .await;
    }

    /// Exchanges a refresh token for a new pair in the same session.
    ///
    /// A session has one live refresh token. Presenting it rotates it: it
    /// stops being live and the response carries its replacement.
    /// Presenting a token that was rotated less than the reuse grace period
    /// ago (two tabs racing, a response lost on the network) yields a fresh
    /// pair whose token supersedes whatever token was live, so once the
    /// grace period has passed exactly one chain continues. Any other
    /// presentation of a rotated token, including the losers of a race when
    /// the grace period is zero, is treated as theft: the whole session is
    /// revoked.
    ///
    /// # Errors
    /// [`RefreshError::InvalidToken`] for a token that is unknown, expired,
    /// revoked, reused after the grace period, or whose user is disabled.
    /// Reuse after the grace period is recorded as
    /// `refresh_reuse_detected`, with `client` as its origin.
    #[tracing::instrument(name = "refresh", skip_all, fields(user_id, session_id))]
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, RefreshError> {
        let now = self.clock.now();
        let hash = TokenHash::of(refresh_token);
        let (plaintext, draft) = self.issuer.draft_refresh_token(now);
        let span = tracing::Span::current();
        // The common case, a live token, is one lookup-and-rotate.
        if let Some((session, user)) = self.sessions.rotate_live(&hash, &draft, now).await? {
            span.record("user_id", tracing::field::display(user.id));
            span.record("session_id", tracing::field::display(session.id));
            return Ok(self
                .issuer
                .token_pair(&user, session.id, session.amr, plaintext)?);
        }
        // Anything else: read the token and judge it as it is.
        let Some((presented, session, user)) = self.sessions.find_refresh_token(&hash).await?
        else {
            return Err(RefreshError::InvalidToken);
        };
        span.record("user_id", tracing::field::display(user.id));
        span.record("session_id", tracing::field::display(session.id));
        if !session.is_live(now) || now >= presented.expires_at || !user.is_active {
            return Err(RefreshError::InvalidToken);
        }
        let replacement = draft.in_session(session.id);
        let mut rotated_at = presented.rotated_at;
        if rotated_at.is_none() {
            if self
                .sessions
                .rotate(presented.id, &replacement, now)
                .await?
            {
                return Ok(self
                    .issuer
                    .token_pair(&user, session.id, session.amr, plaintext)?);
            }
            // Another request rotated it an instant ago, or the session was
            // revoked: read again and judge the token as it is now.
            rotated_at = match self.sessions.find_refresh_token(&hash).await? {
                Some((token, session, _)) if session.is_live(now) => token.rotated_at,
                _ => return Err(RefreshError::InvalidToken),
            };
        }
        let Some(rotated_at) = rotated_at else {
            return Err(RefreshError::InvalidToken);
        };
        if self.within_reuse_grace(rotated_at, now) {
            if !self.sessions.supersede(&replacement, now).await? {
                return Err(RefreshError::InvalidToken);
            }
            return Ok(self
                .issuer
                .token_pair(&user, session.id, session.amr, plaintext)?);
        }
        self.sessions.revoke(user.id, session.id, now).await?;
        tracing::warn!("rotated refresh token reused after the grace period; session revoked");
        self.record(
            AuditEventType::RefreshReuseDetected,
            user.id,
            &Origin::anonymous(client.clone()),
            AuditDetails::new().with("session_id", session.id.to_string()),
        )
        .await;
        Err(RefreshError::InvalidToken)
    }

    /// Whether a token rotated at `rotated_at` may still be replayed at
    /// `now`. A grace period of zero allows no replay at all, not even one
    /// within the same instant.
    fn within_reuse_grace(&self, rotated_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let grace = self.issuer.settings().refresh_reuse_grace;
        grace > chrono::TimeDelta::zero() && now - rotated_at <= grace
    }

    /// Ends the caller's session: its refresh tokens and every access token
    /// carrying its id stop working at once.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails. Revoking a session
    /// that is already revoked is not an error. Recorded as `logout`.
    pub async fn logout(
        &self,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<(), SessionError> {
        self.sessions
            .revoke(user, session, self.clock.now())
            .await?;
        self.record(
            AuditEventType::Logout,
            user,
            &Origin::user(user, client.clone()),
            AuditDetails::new().with("session_id", session.to_string()),
        )
        .await;
        Ok(())
    }

    /// The user's live sessions, newest first.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn list_sessions(&self, user: UserId) -> Result<Vec<Session>, SessionError> {
        Ok(self.sessions.list_live(user, self.clock.now()).await?)
    }

    /// Revokes one of the user's sessions, recorded as `session_revoked`.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] when the session does not exist, belongs to
    /// another user or is already revoked or expired.
    pub async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<(), SessionError> {
        let now = self.clock.now();
        let live = self
            .sessions
            .find_with_user(session)
            .await?
            .is_some_and(|(found, _)| found.user_id == user && found.is_live(now));
        if !live || !self.sessions.revoke(user, session, now).await? {
            return Err(SessionError::NotFound);
        }
        self.record(
            AuditEventType::SessionRevoked,
            user,
            &Origin::user(user, client.clone()),
            AuditDetails::new().with("session_id", session.to_string()),
        )
        .await;
        Ok(())
    }

    /// Revokes every session of the user, the caller's own included;
    /// recorded as `session_revoked` with `{"all": true, "count": n}`.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn revoke_all_sessions(
        &self,
        user: UserId,
        client: &ClientInfo,
    ) -> Result<u64, SessionError> {
        let revoked = self.sessions.revoke_all(user, self.clock.now()).await?;
        self.record(
            AuditEventType::SessionRevoked,
            user,
            &Origin::user(user, client.clone()),
            AuditDetails::new().with("all", true).with("count", revoked),
        )
        .await;
        Ok(revoked)
    }

    /// Deletes expired and revoked sessions and expired refresh tokens.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn purge(&self) -> Result<u64, SessionError> {
        Ok(self.sessions.purge(self.clock.now()).await?)
    }
}
