//! E-mail verification and password reset: tokens sent by mail.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret as _, SecretString};

use super::{ActionToken, ActionTokenRepository, RecoveryError, TokenPurpose};
use crate::audit::{self, AuditDetails, AuditEvent, AuditEventType, Auditor, Origin};
use crate::auth::retry_after;
use crate::common::{Clock, IdGenerator, RateLimiter, SecretGenerator, StorageError, TokenHash};
use crate::mail::{Mailer, OutgoingMail};
use crate::session::ClientInfo;
use crate::user::{
    Email, Password, PasswordChange, PasswordHash, PasswordHasher, PasswordPolicy, User, UserId,
    UserRepository,
};

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

/// How long mail throttling counts.
pub const MAIL_WINDOW: TimeDelta = TimeDelta::hours(1);

/// What the mails say and how many one address may receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The links put into mails.
    pub links: MailLinks,
    /// Verification and reset mails per address in [`MAIL_WINDOW`].
    pub per_address_per_hour: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            links: MailLinks::default(),
            per_address_per_hour: 5,
        }
    }
}

/// The ports [`RecoveryService`] works through.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct RecoveryPorts {
    /// User storage.
    pub users: Arc<dyn UserRepository>,
    /// Hashes new passwords.
    pub hasher: Arc<dyn PasswordHasher>,
    /// The mailed tokens.
    pub tokens: Arc<dyn ActionTokenRepository>,
    /// Sends the mails (the log is an adapter too).
    pub mailer: Arc<dyn Mailer>,
    /// Counts mails per address.
    pub limiter: Arc<dyn RateLimiter>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New token ids.
    pub ids: Arc<dyn IdGenerator>,
    /// New tokens.
    pub secrets: Arc<dyn SecretGenerator>,
    /// The audit trail: verifications, reset requests and resets.
    pub audit: Auditor,
}

/// E-mail verification and password reset.
#[allow(missing_debug_implementations)]
pub struct RecoveryService {
    ports: RecoveryPorts,
    settings: MailSettings,
}

impl RecoveryService {
    /// A service on `ports`.
    #[must_use]
    pub fn new(ports: RecoveryPorts, settings: MailSettings) -> Self {
        Self { ports, settings }
    }

    /// Mails the caller a single-use link proving they own their address;
    /// the link replaces any earlier one. Nothing is sent when the address
    /// is verified already.
    ///
    /// # Errors
    /// [`RecoveryError::RateLimited`] when the address had its hourly
    /// allowance of mails; `Unavailable` / `Unexpected` when storage or the
    /// mailer fails.
    pub async fn request_email_verification(&self, user: &User) -> Result<(), RecoveryError> {
        if user.email_verified {
            return Ok(());
        }
        if let Some(retry_after_secs) = self.mail_allowance_exceeded(user.email.as_str()).await? {
            return Err(RecoveryError::RateLimited { retry_after_secs });
        }
        let token = self
            .issue_action_token(user, TokenPurpose::VerifyEmail)
            .await?;
        let link = self
            .settings
            .links
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
    /// [`RecoveryError::InvalidToken`] for a token that is unknown, used or
    /// expired; [`RecoveryError::AccountDisabled`], with the token left
    /// unused, when the account is disabled.
    pub async fn verify_email(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<(), RecoveryError> {
        let now = self.ports.clock.now();
        let stored = self
            .ports
            .tokens
            .find_valid(&TokenHash::of(token), TokenPurpose::VerifyEmail, now)
            .await?
            .ok_or(RecoveryError::InvalidToken)?;
        self.active_owner(&stored).await?;
        if !self.ports.tokens.consume(stored.id, now).await? {
            return Err(RecoveryError::InvalidToken);
        }
        // Holding the mailed token proves the user acted.
        let event = self.ports.audit.event(
            AuditEventType::EmailVerified,
            Some(stored.user_id),
            &Origin::user(stored.user_id, client.clone()),
            AuditDetails::new(),
        );
        if !self
            .ports
            .users
            .set_email_verified(stored.user_id, now, &event)
            .await?
        {
            return Err(RecoveryError::InvalidToken);
        }
        audit::emit(&event);
        Ok(())
    }

    /// Mails a password reset link when an account has this address. The
    /// caller answers the same either way, so the address's existence does
    /// not leak. A request for an active account is recorded as
    /// `password_reset_requested` (`details.mail_sent` is `false` when the
    /// hourly allowance was used up); other requests are not recorded.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage or the mailer fails.
    pub async fn forgot_password(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<(), RecoveryError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(user) = self.ports.users.find_by_email(&email).await? else {
            return Ok(());
        };
        if !user.is_active {
            return Ok(());
        }
        let requested = |mail_sent: bool| {
            self.ports.audit.event(
                AuditEventType::PasswordResetRequested,
                Some(user.id),
                &Origin::anonymous(client.clone()),
                AuditDetails::new().with("mail_sent", mail_sent),
            )
        };
        if self
            .mail_allowance_exceeded(user.email.as_str())
            .await?
            .is_some()
        {
            tracing::info!(user_id = %user.id, "reset mail not sent: hourly allowance used up");
            self.ports.audit.record(requested(false)).await;
            return Ok(());
        }
        let token = self
            .issue_action_token(&user, TokenPurpose::ResetPassword)
            .await?;
        let link = self
            .settings
            .links
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
        .await?;
        self.ports.audit.record(requested(true)).await;
        Ok(())
    }

    /// Sets a new password with a reset token, and revokes every session of
    /// the user and every other reset link. The token is used up only when
    /// the new password is valid. Recorded as `password_reset`, with the
    /// new hash.
    ///
    /// # Errors
    /// [`RecoveryError::InvalidToken`] for a token that is unknown, used or
    /// expired; [`RecoveryError::AccountDisabled`], changing nothing, when
    /// the account is disabled; [`RecoveryError::InvalidPassword`] when the
    /// new password breaks the policy.
    #[tracing::instrument(name = "reset_password", skip_all, fields(user_id))]
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: SecretString,
        policy: &PasswordPolicy,
        client: &ClientInfo,
    ) -> Result<(), RecoveryError> {
        let now = self.ports.clock.now();
        let stored = self
            .ports
            .tokens
            .find_valid(&TokenHash::of(token), TokenPurpose::ResetPassword, now)
            .await?
            .ok_or(RecoveryError::InvalidToken)?;
        tracing::Span::current().record("user_id", tracing::field::display(stored.user_id));
        let user = self.active_owner(&stored).await?;
        let password = Password::parse(new_password, policy, Some(&user.email))
            .map_err(RecoveryError::InvalidPassword)?;
        let hash = self.ports.hasher.hash(&password).await?;
        if !self.ports.tokens.consume(stored.id, now).await? {
            return Err(RecoveryError::InvalidToken);
        }
        let event = self.ports.audit.event(
            AuditEventType::PasswordReset,
            Some(user.id),
            &Origin::user(user.id, client.clone()),
            AuditDetails::new(),
        );
        let Some(revoked) = self.store_new_password(user.id, &hash, now, event).await? else {
            return Ok(());
        };
        tracing::info!(revoked, "password reset; every session revoked");
        Ok(())
    }

    /// Sets a new password for the user with this address, as an operator
    /// does from the command line (`authd user set-password`): every session
    /// of the user and every outstanding reset link is revoked, as after a
    /// reset. Recorded as `password_changed` with no actor and
    /// `{"by": "operator"}`.
    ///
    /// # Errors
    /// [`RecoveryError::UnknownUser`] when no user has the address.
    #[tracing::instrument(name = "set_password", skip_all, fields(user_id))]
    pub async fn set_password(
        &self,
        email: &Email,
        password: &Password,
    ) -> Result<User, RecoveryError> {
        let user = self
            .ports
            .users
            .find_by_email(email)
            .await?
            .ok_or(RecoveryError::UnknownUser)?;
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        let hash = self.ports.hasher.hash(password).await?;
        let now = self.ports.clock.now();
        let event = self.ports.audit.event(
            AuditEventType::PasswordChanged,
            Some(user.id),
            &Origin::operator(),
            AuditDetails::new().with("by", "operator"),
        );
        let Some(revoked) = self.store_new_password(user.id, &hash, now, event).await? else {
            return Err(RecoveryError::UnknownUser);
        };
        tracing::info!(
            revoked,
            "password set by an operator; every session revoked"
        );
        Ok(user)
    }

    /// Stores `hash` as the user's new password, with `event`; every
    /// session and reset link of theirs ends in the same write. How many
    /// sessions ended, or `None` when the user is gone.
    async fn store_new_password(
        &self,
        user: UserId,
        hash: &PasswordHash,
        now: DateTime<Utc>,
        event: AuditEvent,
    ) -> Result<Option<u64>, StorageError> {
        let revoked = self
            .ports
            .users
            .update_password_hash(
                user,
                hash,
                now,
                Some(event.clone()),
                PasswordChange::NewPassword { keep: None },
            )
            .await?;
        if revoked.is_some() {
            audit::emit(&event);
        }
        Ok(revoked)
    }

    /// The user `token` was issued to, if the account is still usable.
    async fn active_owner(&self, token: &ActionToken) -> Result<User, RecoveryError> {
        let user = self
            .ports
            .users
            .find_by_id(token.user_id)
            .await?
            .ok_or(RecoveryError::InvalidToken)?;
        if !user.is_active {
            return Err(RecoveryError::AccountDisabled);
        }
        Ok(user)
    }

    async fn issue_action_token(
        &self,
        user: &User,
        purpose: TokenPurpose,
    ) -> Result<SecretString, RecoveryError> {
        let now = self.ports.clock.now();
        let plaintext = self.ports.secrets.generate();
        let ttl = match purpose {
            TokenPurpose::VerifyEmail => VERIFY_EMAIL_TTL,
            TokenPurpose::ResetPassword => RESET_PASSWORD_TTL,
        };
        self.ports
            .tokens
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

    async fn send_mail(&self, mail: OutgoingMail) -> Result<(), RecoveryError> {
        self.ports
            .mailer
            .send(mail)
            .await
            .map_err(|e| RecoveryError::Unavailable(e.into()))
    }

    /// Counts one mail to `address`; `Some(retry_after)` when the hourly
    /// allowance for that address is used up and nothing may be sent.
    async fn mail_allowance_exceeded(&self, address: &str) -> Result<Option<u64>, StorageError> {
        let now = self.ports.clock.now();
        let key = format!("mail:{}", TokenHash::of(address).as_str());
        let count = self.ports.limiter.hit(&key, MAIL_WINDOW, now).await?;
        Ok((count.count > self.settings.per_address_per_hour).then(|| retry_after(&count, now)))
    }

    /// Deletes mailed tokens that expired, used or not.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn purge(&self) -> Result<u64, RecoveryError> {
        Ok(self.ports.tokens.purge(self.ports.clock.now()).await?)
    }
}
