//! Session use-cases: refreshing, listing and revoking.

use super::{AuthService, IssuedTokens, RefreshError, SessionError};
use crate::common::TokenHash;
use crate::session::{Session, SessionId};
use crate::user::UserId;

impl AuthService {
    /// Exchanges a refresh token for a new pair in the same session.
    ///
    /// The presented token is rotated: it stops being the live one and the
    /// response carries its replacement. Presenting an already-rotated token
    /// within the reuse grace period (two tabs racing) yields another fresh
    /// pair for the same session; after it, the replay is treated as theft
    /// and the whole session is revoked.
    ///
    /// # Errors
    /// [`RefreshError::InvalidToken`] for a token that is unknown, expired,
    /// revoked, reused after the grace period, or whose user is disabled.
    #[tracing::instrument(name = "refresh", skip_all, fields(user_id, session_id))]
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, RefreshError> {
        let now = self.ports.clock.now();
        let Some((presented, session, user)) = self
            .ports
            .sessions
            .find_refresh_token(&TokenHash::of(refresh_token))
            .await?
        else {
            return Err(RefreshError::InvalidToken);
        };
        let span = tracing::Span::current();
        span.record("user_id", tracing::field::display(user.id));
        span.record("session_id", tracing::field::display(session.id));
        if !session.is_live(now) || now >= presented.expires_at || !user.is_active {
            return Err(RefreshError::InvalidToken);
        }
        let (plaintext, replacement) = self.new_refresh_token(session.id, now);
        let issued = match presented.rotated_at {
            None => {
                if self
                    .ports
                    .sessions
                    .rotate(presented.id, &replacement, now)
                    .await?
                {
                    true
                } else {
                    // Another request rotated it an instant ago (or the session
                    // was revoked): the grace period covers the race.
                    self.ports.sessions.add_token(&replacement, now).await?
                }
            }
            Some(rotated_at) if now - rotated_at <= self.settings.refresh_reuse_grace => {
                self.ports.sessions.add_token(&replacement, now).await?
            }
            Some(_) => {
                self.ports.sessions.revoke(user.id, session.id, now).await?;
                tracing::warn!(
                    "rotated refresh token reused after the grace period; session revoked"
                );
                return Err(RefreshError::InvalidToken);
            }
        };
        if !issued {
            return Err(RefreshError::InvalidToken);
        }
        Ok(self.token_pair(&user, session.id, plaintext)?)
    }

    /// Ends the caller's session: its refresh tokens and every access token
    /// carrying its id stop working at once.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails. Revoking a session
    /// that is already revoked is not an error.
    pub async fn logout(&self, user: UserId, session: SessionId) -> Result<(), SessionError> {
        self.ports
            .sessions
            .revoke(user, session, self.ports.clock.now())
            .await?;
        Ok(())
    }

    /// The user's live sessions, newest first.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn list_sessions(&self, user: UserId) -> Result<Vec<Session>, SessionError> {
        Ok(self
            .ports
            .sessions
            .list_live(user, self.ports.clock.now())
            .await?)
    }

    /// Revokes one of the user's sessions.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] when the session does not exist, belongs to
    /// another user or is already revoked or expired.
    pub async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
    ) -> Result<(), SessionError> {
        let now = self.ports.clock.now();
        let live = self
            .ports
            .sessions
            .find_with_user(session)
            .await?
            .is_some_and(|(found, _)| found.user_id == user && found.is_live(now));
        if !live || !self.ports.sessions.revoke(user, session, now).await? {
            return Err(SessionError::NotFound);
        }
        Ok(())
    }

    /// Revokes every session of the user, the caller's own included.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn revoke_all_sessions(&self, user: UserId) -> Result<u64, SessionError> {
        Ok(self
            .ports
            .sessions
            .revoke_all(user, self.ports.clock.now())
            .await?)
    }

    /// Deletes expired and revoked sessions, expired refresh tokens and
    /// expired mail tokens.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn purge_sessions(&self) -> Result<u64, SessionError> {
        let now = self.ports.clock.now();
        if let Some((_, tokens)) = &self.mail {
            tokens.purge(now).await?;
        }
        Ok(self.ports.sessions.purge(now).await?)
    }
}
