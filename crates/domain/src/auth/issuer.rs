//! Opening sessions and issuing token pairs: shared by sign-up, log-in and
//! refresh.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;

use super::{AccessClaims, IssueTokenError, IssuedTokens, TokenIssuer};
use crate::audit::{self, AuditEvent};
use crate::common::{Clock, IdGenerator, SecretGenerator, StorageError, TokenHash};
use crate::session::{
    AuthMethods, ClientInfo, RefreshToken, RefreshTokenDraft, RefreshTokenId, Session, SessionId,
    SessionRepository,
};
use crate::user::User;

/// Lifetimes of the tokens the service hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSettings {
    /// How long an access token is valid.
    pub access_ttl: TimeDelta,
    /// How long a refresh token (and so an idle session) is valid.
    pub refresh_ttl: TimeDelta,
    /// How long an already-rotated refresh token may be replayed for a fresh
    /// pair (racing clients) before a replay counts as theft; zero allows no
    /// replay at all.
    pub refresh_reuse_grace: TimeDelta,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_ttl: TimeDelta::seconds(900),
            refresh_ttl: TimeDelta::days(30),
            refresh_reuse_grace: TimeDelta::seconds(10),
        }
    }
}

/// Opens sessions and issues access and refresh tokens for them.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct SessionIssuer {
    sessions: Arc<dyn SessionRepository>,
    issuer: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    secrets: Arc<dyn SecretGenerator>,
    settings: AuthSettings,
}

impl SessionIssuer {
    /// An issuer storing sessions in `sessions` and signing with `issuer`.
    #[must_use]
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        issuer: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        secrets: Arc<dyn SecretGenerator>,
        settings: AuthSettings,
    ) -> Self {
        Self {
            sessions,
            issuer,
            clock,
            ids,
            secrets,
            settings,
        }
    }

    /// The token lifetimes in force.
    #[must_use]
    pub fn settings(&self) -> AuthSettings {
        self.settings
    }

    /// Starts a session for `user`, who signed in with `amr`, and issues its
    /// first token pair. `event`, the audit event that records the sign-in
    /// (if any), is stored with the session, in the same write, with the
    /// new session's id added to its details as `session_id`.
    ///
    /// # Errors
    /// When the session cannot be stored or the access token not signed.
    pub async fn open<E>(
        &self,
        user: &User,
        client: ClientInfo,
        amr: AuthMethods,
        event: Option<AuditEvent>,
    ) -> Result<IssuedTokens, E>
    where
        E: From<StorageError> + From<IssueTokenError>,
    {
        let now = self.clock.now();
        let session = Session {
            id: SessionId(self.ids.new_id()),
            user_id: user.id,
            client,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.refresh_ttl,
            revoked_at: None,
            amr,
        };
        let (refresh_token, stored) = self.new_refresh_token(session.id, now);
        let event = event.map(|mut event| {
            event.details = event.details.with("session_id", session.id.to_string());
            event
        });
        self.sessions
            .insert(&session, &stored, event.as_ref())
            .await?;
        if let Some(event) = &event {
            audit::emit(event);
        }
        Ok(self.token_pair(user, session.id, amr, refresh_token)?)
    }

    /// A fresh refresh token for `session`: the plaintext for the client and
    /// the record to store.
    #[must_use]
    pub fn new_refresh_token(
        &self,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> (SecretString, RefreshToken) {
        let (plaintext, draft) = self.draft_refresh_token(now);
        (plaintext, draft.in_session(session))
    }

    /// A fresh refresh token whose session is not known yet: the plaintext
    /// for the client and the draft of the record to store.
    #[must_use]
    pub fn draft_refresh_token(&self, now: DateTime<Utc>) -> (SecretString, RefreshTokenDraft) {
        let plaintext = self.secrets.generate();
        let draft = RefreshTokenDraft {
            id: RefreshTokenId(self.ids.new_id()),
            hash: TokenHash::of(&plaintext),
            created_at: now,
            expires_at: now + self.settings.refresh_ttl,
        };
        (SecretString::from(plaintext), draft)
    }

    /// An access token for `user` in `session` (opened with `amr`), paired
    /// with `refresh_token`.
    ///
    /// # Errors
    /// When the access token cannot be signed.
    pub fn token_pair(
        &self,
        user: &User,
        session: SessionId,
        amr: AuthMethods,
        refresh_token: SecretString,
    ) -> Result<IssuedTokens, IssueTokenError> {
        let now = self.clock.now();
        let access_token = self.issuer.issue(&AccessClaims {
            user_id: user.id,
            session_id: session,
            role: user.role,
            issued_at: now,
            expires_at: now + self.settings.access_ttl,
            token_id: self.ids.new_id(),
            amr,
        })?;
        Ok(IssuedTokens {
            access_token: SecretString::from(access_token),
            expires_in: self.settings.access_ttl.num_seconds(),
            refresh_token,
            session_id: session,
        })
    }
}
