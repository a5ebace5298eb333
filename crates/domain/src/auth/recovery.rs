//! E-mail verification and password reset: tokens sent by mail.

use chrono::TimeDelta;
use secrecy::{ExposeSecret as _, SecretString};

use super::{AuthService, MailFlowError};
use crate::common::TokenHash;
use crate::mail::{ActionToken, OutgoingMail, TokenPurpose};
use crate::user::{Email, Password, PasswordPolicy, User};

/// How long an e-mail verification token is valid.
pub const VERIFY_EMAIL_TTL: TimeDelta = TimeDelta::hours(24);
/// How long a password reset token is valid.
pub const RESET_PASSWORD_TTL: TimeDelta = TimeDelta::hours(1);

/// Links put into mails; `{token}` is replaced by the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLinks {
    /// E-mail verification page.
    pub verify_url: String,
    /// Password reset page.
    pub reset_url: String,
}

impl Default for MailLinks {
    fn default() -> Self {
        Self {
            verify_url: "http://localhost:3000/verify-email?token={token}".into(),
            reset_url: "http://localhost:3000/reset-password?token={token}".into(),
        }
    }
}

impl AuthService {
    /// Mails the caller a single-use link proving they own their address;
    /// the link replaces any earlier one. Nothing is sent when the address
    /// is verified already.
    ///
    /// # Errors
    /// [`MailFlowError::RateLimited`] when the address had its hourly
    /// allowance of mails; `Unavailable` / `Unexpected` when storage or the
    /// mailer fails.
    pub async fn request_email_verification(&self, user: &User) -> Result<(), MailFlowError> {
        if user.email_verified {
            return Ok(());
        }
        if let Some(retry_after_secs) = self.mail_allowance_exceeded(user.email.as_str()).await? {
            return Err(MailFlowError::RateLimited { retry_after_secs });
        }
        let token = self
            .issue_action_token(user, TokenPurpose::VerifyEmail)
            .await?;
        let link = self
            .mail_links
            .verify_url
            .replace("{token}", token.expose_secret());
        self.send_mail(OutgoingMail {
            to: user.email.clone(),
            subject: "Verify your e-mail address".into(),
            text: format!(
                "Confirm that {} is your address by opening this link within 24 hours:\n\n{link}\n\n\
                 If you did not ask for this, ignore this message.\n",
                user.email
            ),
        })
        .await
    }

    /// Marks the token's user as verified.
    ///
    /// # Errors
    /// [`MailFlowError::InvalidToken`] for a token that is unknown, used or
    /// expired; [`MailFlowError::AccountDisabled`], with the token left
    /// unused, when the account is disabled.
    pub async fn verify_email(&self, token: &str) -> Result<(), MailFlowError> {
        let now = self.ports.clock.now();
        let stored = self
            .action_tokens()?
            .find_valid(&TokenHash::of(token), TokenPurpose::VerifyEmail, now)
            .await?
            .ok_or(MailFlowError::InvalidToken)?;
        self.active_owner(&stored).await?;
        if !self.action_tokens()?.consume(stored.id, now).await? {
            return Err(MailFlowError::InvalidToken);
        }
        if !self
            .ports
            .users
            .set_email_verified(stored.user_id, now)
            .await?
        {
            return Err(MailFlowError::InvalidToken);
        }
        Ok(())
    }

    /// Mails a password reset link when an account has this address. The
    /// caller answers the same either way, so the address's existence does
    /// not leak.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage or the mailer fails.
    pub async fn forgot_password(&self, email: &str) -> Result<(), MailFlowError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(user) = self.ports.users.find_by_email(&email).await? else {
            return Ok(());
        };
        if !user.is_active {
            return Ok(());
        }
        if self
            .mail_allowance_exceeded(user.email.as_str())
            .await?
            .is_some()
        {
            tracing::info!(user_id = %user.id, "reset mail not sent: hourly allowance used up");
            return Ok(());
        }
        let token = self
            .issue_action_token(&user, TokenPurpose::ResetPassword)
            .await?;
        let link = self
            .mail_links
            .reset_url
            .replace("{token}", token.expose_secret());
        self.send_mail(OutgoingMail {
            to: user.email.clone(),
            subject: "Reset your password".into(),
            text: format!(
                "Someone asked to reset the password of {}. To choose a new one, open this \
                 link within an hour:\n\n{link}\n\nIf it was not you, ignore this message: \
                 your password stays as it is.\n",
                user.email
            ),
        })
        .await
    }

    /// Sets a new password with a reset token, and revokes every session of
    /// the user and every other reset link. The token is used up only when
    /// the new password is valid.
    ///
    /// # Errors
    /// [`MailFlowError::InvalidToken`] for a token that is unknown, used or
    /// expired; [`MailFlowError::AccountDisabled`], changing nothing, when
    /// the account is disabled; [`MailFlowError::InvalidPassword`] when the
    /// new password breaks the policy.
    #[tracing::instrument(name = "reset_password", skip_all, fields(user_id))]
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: SecretString,
        policy: &PasswordPolicy,
    ) -> Result<(), MailFlowError> {
        let now = self.ports.clock.now();
        let stored = self
            .action_tokens()?
            .find_valid(&TokenHash::of(token), TokenPurpose::ResetPassword, now)
            .await?
            .ok_or(MailFlowError::InvalidToken)?;
        tracing::Span::current().record("user_id", tracing::field::display(stored.user_id));
        let user = self.active_owner(&stored).await?;
        let password = Password::parse(new_password, policy, Some(&user.email))
            .map_err(MailFlowError::InvalidPassword)?;
        let hash = self.ports.hasher.hash(&password).await?;
        if !self.action_tokens()?.consume(stored.id, now).await? {
            return Err(MailFlowError::InvalidToken);
        }
        self.ports
            .users
            .update_password_hash(user.id, &hash, now)
            .await?;
        self.action_tokens()?
            .invalidate(user.id, TokenPurpose::ResetPassword, now)
            .await?;
        let revoked = self.ports.sessions.revoke_all(user.id, now).await?;
        tracing::info!(revoked, "password reset; every session revoked");
        Ok(())
    }

    /// The user `token` was issued to, if the account is still usable.
    async fn active_owner(&self, token: &ActionToken) -> Result<User, MailFlowError> {
        let user = self
            .ports
            .users
            .find_by_id(token.user_id)
            .await?
            .ok_or(MailFlowError::InvalidToken)?;
        if !user.is_active {
            return Err(MailFlowError::AccountDisabled);
        }
        Ok(user)
    }

    async fn issue_action_token(
        &self,
        user: &User,
        purpose: TokenPurpose,
    ) -> Result<SecretString, MailFlowError> {
        let now = self.ports.clock.now();
        let plaintext = self.ports.secrets.generate();
        let ttl = match purpose {
            TokenPurpose::VerifyEmail => VERIFY_EMAIL_TTL,
            TokenPurpose::ResetPassword => RESET_PASSWORD_TTL,
        };
        self.action_tokens()?
            .insert(&ActionToken {
                id: self.ports.ids.new_id(),
                user_id: user.id,
                purpose,
                hash: TokenHash::of(&plaintext),
                created_at: now,
                expires_at: now + ttl,
            })
            .await?;
        Ok(SecretString::from(plaintext))
    }

    async fn send_mail(&self, mail: OutgoingMail) -> Result<(), MailFlowError> {
        let mailer = self
            .mail
            .as_ref()
            .map(|(mailer, _)| mailer)
            .ok_or_else(|| MailFlowError::Unexpected(anyhow::anyhow!("no mailer configured")))?;
        mailer
            .send(mail)
            .await
            .map_err(|e| MailFlowError::Unavailable(e.into()))
    }

    fn action_tokens(
        &self,
    ) -> Result<&std::sync::Arc<dyn crate::mail::ActionTokenRepository>, MailFlowError> {
        self.mail
            .as_ref()
            .map(|(_, tokens)| tokens)
            .ok_or_else(|| MailFlowError::Unexpected(anyhow::anyhow!("no mail flows configured")))
    }
}
