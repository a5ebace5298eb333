//! The log-in challenge: after the right password, a user with the second
//! factor on gets an `mfa_token` instead of tokens, and trades it with a
//! code for a session.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::{
    FactorState, MFA_TOKEN_TTL, MfaChallenge, MfaChallengeRepository, MfaPorts, MfaVerifyError,
};
use crate::audit::{AuditDetails, AuditEventType, Origin};
use crate::auth::{IssuedTokens, SessionIssuer};
use crate::common::{Clock, IdGenerator, SecretGenerator, StorageError, TokenHash};
use crate::session::{AuthMethods, ClientInfo};
use crate::user::{User, UserId};

/// Hands out `mfa_token`s: opaque, 256 bits, single-use, valid for
/// [`MFA_TOKEN_TTL`], stored only as a hash and bound to the user whose
/// password was just checked.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct ChallengeIssuer {
    challenges: Arc<dyn MfaChallengeRepository>,
    secrets: Arc<dyn SecretGenerator>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
}

impl ChallengeIssuer {
    /// An issuer storing challenges in `challenges`.
    #[must_use]
    pub fn new(
        challenges: Arc<dyn MfaChallengeRepository>,
        secrets: Arc<dyn SecretGenerator>,
        ids: Arc<dyn IdGenerator>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            challenges,
            secrets,
            ids,
            clock,
        }
    }

    /// A new challenge for `user`, whose password was right: the token for
    /// the client.
    ///
    /// # Errors
    /// When the challenge cannot be stored.
    pub async fn issue(&self, user: UserId) -> Result<SecretString, StorageError> {
        let token = self.secrets.generate();
        let now = self.clock.now();
        self.challenges
            .insert(&MfaChallenge {
                id: self.ids.new_id(),
                user_id: user,
                hash: TokenHash::of(&token),
                created_at: now,
                expires_at: now + MFA_TOKEN_TTL,
            })
            .await?;
        Ok(SecretString::from(token))
    }
}

/// Answers log-in challenges: `POST /auth/mfa/verify`.
#[allow(missing_debug_implementations)]
pub struct MfaChallengeService {
    ports: MfaPorts,
    challenges: Arc<dyn MfaChallengeRepository>,
    issuer: SessionIssuer,
}

impl MfaChallengeService {
    /// A service checking codes through `ports` and opening sessions with
    /// `issuer`.
    #[must_use]
    pub fn new(
        ports: MfaPorts,
        challenges: Arc<dyn MfaChallengeRepository>,
        issuer: SessionIssuer,
    ) -> Self {
        Self {
            ports,
            challenges,
            issuer,
        }
    }

    /// Trades an `mfa_token` and a code (a TOTP code or a recovery code) for
    /// a session whose tokens say `amr: ["pwd", "otp"]`. The code is
    /// counted against the log-in limits before it is checked; a wrong code
    /// leaves the token usable until it expires, a right one spends both.
    ///
    /// # Errors
    /// [`MfaVerifyError::InvalidToken`] for an unknown, used or expired
    /// token (or a user whose factor was reset meanwhile);
    /// [`MfaVerifyError::InvalidCode`] for a wrong, replayed or used code;
    /// [`MfaVerifyError::RateLimited`] past a limit, with no code checked;
    /// [`MfaVerifyError::AccountDisabled`].
    #[tracing::instrument(name = "mfa_verify", skip_all, fields(user_id))]
    pub async fn verify(
        &self,
        mfa_token: &str,
        code: &str,
        client: ClientInfo,
    ) -> Result<(User, IssuedTokens), MfaVerifyError> {
        let now = self.ports.clock.now();
        let Some(challenge) = self
            .challenges
            .find_valid(&TokenHash::of(mfa_token), now)
            .await?
        else {
            return Err(MfaVerifyError::InvalidToken);
        };
        tracing::Span::current().record("user_id", tracing::field::display(challenge.user_id));
        let Some(user) = self.ports.users.find_by_id(challenge.user_id).await? else {
            return Err(MfaVerifyError::InvalidToken);
        };
        if !user.is_active {
            return Err(MfaVerifyError::AccountDisabled);
        }
        let factor = match self.ports.factors.find(user.id).await? {
            Some(factor) if factor.state == FactorState::Enabled => factor,
            _ => return Err(MfaVerifyError::InvalidToken),
        };
        // The token is claimed before the code is spent, so that of
        // concurrent requests with one token only the one holding it spends
        // a code (a recovery code works once: another request's must not
        // be burnt for nothing). A refused code hands the token back.
        if !self
            .challenges
            .consume(challenge.id, self.ports.clock.now())
            .await?
        {
            return Err(MfaVerifyError::InvalidToken);
        }
        let outcome = self
            .ports
            .guard
            .check_code(
                user.email.as_str(),
                client.ip.as_deref(),
                self.ports.spend_code(&factor, code),
            )
            .await;
        if !matches!(outcome, Ok(Ok(Some(_)))) {
            // A refused code, or no check at all: the token goes back.
            self.challenges.release(challenge.id).await?;
        }
        let accepted = outcome??;
        let origin = Origin::user(user.id, client.clone());
        if accepted.is_none() {
            let event = self.ports.audit.event(
                AuditEventType::MfaChallengeFailed,
                Some(user.id),
                &origin,
                AuditDetails::new(),
            );
            self.ports.audit.record(event).await;
            return Err(MfaVerifyError::InvalidCode);
        }
        let event = self.ports.audit.event(
            AuditEventType::LoginSucceeded,
            Some(user.id),
            &origin,
            AuditDetails::new().with("second_factor", true),
        );
        let tokens = self
            .issuer
            .open::<MfaVerifyError>(&user, client, AuthMethods::PasswordAndOtp, Some(event))
            .await?;
        Ok((user, tokens))
    }

    /// Deletes challenges that expired before `before`.
    ///
    /// # Errors
    /// When storage fails.
    pub async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        self.challenges.purge(before).await
    }
}
