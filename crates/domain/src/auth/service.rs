use std::sync::Arc;

use secrecy::SecretString;

use super::guard::{CheckRefused, PasswordGuard};
use super::issuer::SessionIssuer;
use super::{
    AuthenticateError, Authenticated, IssuedTokens, LoginCommand, LoginError, SignupCommand,
    SignupError, TokenVerifier,
};
use crate::audit::{self, AuditDetails, AuditEventType, Auditor, Origin};
use crate::common::{Clock, IdGenerator};
use crate::mfa::ChallengeIssuer;
use crate::session::{AuthMethods, SessionRepository};
use crate::user::{
    Email, Password, PasswordChange, PasswordHash, PasswordHasher, PasswordVerification, Role,
    User, UserId, UserRepository,
};

/// The ports [`AuthService`] works through.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct AuthPorts {
    /// User storage.
    pub users: Arc<dyn UserRepository>,
    /// Session storage, read to authenticate requests.
    pub sessions: Arc<dyn SessionRepository>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access-token checking.
    pub verifier: Arc<dyn TokenVerifier>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New entity ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Log-in challenges for users with a second factor.
    pub mfa: ChallengeIssuer,
    /// The audit trail: sign-ups and log-in outcomes.
    pub audit: Auditor,
}

/// Signing up, logging in and authenticating requests.
#[allow(missing_debug_implementations)]
pub struct AuthService {
    ports: AuthPorts,
    issuer: SessionIssuer,
    guard: PasswordGuard,
    /// A hash of a random password, verified when the e-mail address is
    /// unknown so that both log-in failures cost the same time.
    dummy_hash: PasswordHash,
}

impl AuthService {
    /// Builds the service. `dummy_hash` must come from the same hasher with the
    /// same parameters as real hashes, so verifying it takes as long.
    #[must_use]
    pub fn new(
        ports: AuthPorts,
        issuer: SessionIssuer,
        guard: PasswordGuard,
        dummy_hash: PasswordHash,
    ) -> Self {
        Self {
            ports,
            issuer,
            guard,
            dummy_hash,
        }
    }

    /// Creates an account and signs it in.
    ///
    /// # Errors
    /// [`SignupError::EmailTaken`] when the address is in use (also when two
    /// sign-ups race), `Unavailable` when storage or hashing capacity is
    /// exhausted.
    #[tracing::instrument(name = "signup", skip_all, fields(user_id))]
    pub async fn signup(
        &self,
        command: SignupCommand,
    ) -> Result<(User, IssuedTokens), SignupError> {
        let mut user = self
            .new_user(command.email, &command.password, Role::User)
            .await?;
        user.display_name = command.display_name;
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        let event = self.ports.audit.event(
            AuditEventType::Signup,
            Some(user.id),
            &Origin::user(user.id, command.client.clone()),
            AuditDetails::new(),
        );
        self.ports.users.insert(&user, &event).await?;
        audit::emit(&event);
        let tokens = self
            .issuer
            .open::<SignupError>(&user, command.client, AuthMethods::Password, None)
            .await?;
        Ok((user, tokens))
    }

    /// Creates an account without signing it in (the command line's
    /// `authd user create`), with the given role.
    ///
    /// # Errors
    /// As [`AuthService::signup`].
    pub async fn create_user(
        &self,
        email: Email,
        password: Password,
        role: Role,
    ) -> Result<User, SignupError> {
        let user = self.new_user(email, &password, role).await?;
        let event = self.ports.audit.event(
            AuditEventType::Signup,
            Some(user.id),
            &Origin::operator(),
            AuditDetails::new().with("role", role.as_str()),
        );
        self.ports.users.insert(&user, &event).await?;
        audit::emit(&event);
        Ok(user)
    }

    async fn new_user(
        &self,
        email: Email,
        password: &Password,
        role: Role,
    ) -> Result<User, SignupError> {
        let password_hash = self.ports.hasher.hash(password).await?;
        let now = self.ports.clock.now();
        Ok(User {
            id: UserId(self.ports.ids.new_id()),
            email,
            password_hash,
            display_name: None,
            email_verified: false,
            role,
            is_active: true,
            mfa_enabled: false,
            created_at: now,
            updated_at: now,
        })
    }

    /// Checks an e-mail address and password and opens a session.
    ///
    /// The attempt is counted against the limits before any hashing.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for an unknown address or a wrong
    /// password (after the same amount of hashing work);
    /// [`LoginError::AccountDisabled`] only once the password was right;
    /// [`LoginError::RateLimited`] past a limit, with no password checked;
    /// [`LoginError::MfaRequired`], with no session opened, when the
    /// password was right and the user's second factor is on.
    #[tracing::instrument(name = "login", skip_all, fields(user_id))]
    pub async fn login(&self, command: LoginCommand) -> Result<(User, IssuedTokens), LoginError> {
        let email = Email::parse(&command.email).ok();
        let account = email.as_ref().map_or_else(
            || command.email.trim().to_lowercase(),
            |e| e.as_str().to_owned(),
        );
        let user = match &email {
            Some(email) => self.ports.users.find_by_email(email).await?,
            None => None,
        };
        // An unknown address costs the same work, then gets the same answer.
        let hash = user.as_ref().map_or(&self.dummy_hash, |u| &u.password_hash);
        let subject = user.as_ref().map(|u| u.id);
        let refused = |kind, details: AuditDetails| {
            self.ports.audit.event(
                kind,
                subject,
                &Origin::anonymous(command.client.clone()),
                // The address as tried, cut to a sane length.
                details.with("email", account.chars().take(320).collect::<String>()),
            )
        };
        // A second factor to come: the pair is reset once it passes.
        let (ip, password) = (command.client.ip.as_deref(), &command.password);
        let checked = if user.as_ref().is_some_and(|u| u.mfa_enabled) {
            self.guard
                .check_first_of_two(&account, ip, password, hash)
                .await
        } else {
            self.guard.check(&account, ip, password, hash).await
        };
        let verification = match checked {
            Ok(verification) => verification,
            Err(CheckRefused::RateLimited(retry_after_secs)) => {
                let details = AuditDetails::new().with("retry_after_secs", retry_after_secs);
                self.ports
                    .audit
                    .record(refused(AuditEventType::LoginRateLimited, details))
                    .await;
                return Err(LoginError::RateLimited { retry_after_secs });
            }
            Err(other) => return Err(other.into()),
        };
        let failed = |reason: &str| {
            refused(
                AuditEventType::LoginFailed,
                AuditDetails::new().with("reason", reason),
            )
        };
        let Some(user) = user else {
            self.ports.audit.record(failed("unknown_account")).await;
            return Err(LoginError::InvalidCredentials);
        };
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        let PasswordVerification::Match { needs_rehash } = verification else {
            self.ports.audit.record(failed("wrong_password")).await;
            return Err(LoginError::InvalidCredentials);
        };
        if !user.is_active {
            self.ports.audit.record(failed("account_disabled")).await;
            return Err(LoginError::AccountDisabled);
        }
        if needs_rehash {
            self.upgrade_hash(&user, command.password.clone()).await;
        }
        if user.mfa_enabled {
            let mfa_token = self.ports.mfa.issue(user.id).await?;
            return Err(LoginError::MfaRequired { mfa_token });
        }
        let event = self.ports.audit.event(
            AuditEventType::LoginSucceeded,
            Some(user.id),
            &Origin::user(user.id, command.client.clone()),
            AuditDetails::new(),
        );
        let tokens = self
            .issuer
            .open::<LoginError>(&user, command.client, AuthMethods::Password, Some(event))
            .await?;
        Ok((user, tokens))
    }

    /// Resolves an access token to its user and session, as they are now.
    ///
    /// # Errors
    /// [`AuthenticateError::Rejected`] for a token the verifier refuses,
    /// `SessionInvalid` when its session was revoked, expired or deleted, and
    /// `UserInvalid` when its user was disabled or deleted.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, AuthenticateError> {
        let claims = self.ports.verifier.verify(token)?;
        let Some((session, user)) = self
            .ports
            .sessions
            .find_with_user(claims.session_id)
            .await?
        else {
            return Err(AuthenticateError::SessionInvalid);
        };
        if session.user_id != claims.user_id || user.id != claims.user_id {
            return Err(AuthenticateError::SessionInvalid);
        }
        if !session.is_live(self.ports.clock.now()) {
            return Err(AuthenticateError::SessionInvalid);
        }
        if !user.is_active {
            return Err(AuthenticateError::UserInvalid);
        }
        Ok(Authenticated {
            user,
            session_id: session.id,
        })
    }

    /// Replaces a hash made with outdated parameters. A failure here must not
    /// fail the log-in: the old hash still works.
    async fn upgrade_hash(&self, user: &User, password: SecretString) {
        let password = Password::already_verified(password);
        let result = match self.ports.hasher.hash(&password).await {
            Ok(hash) => self
                .ports
                .users
                .update_password_hash(
                    user.id,
                    &hash,
                    self.ports.clock.now(),
                    None,
                    PasswordChange::Rehash,
                )
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from),
            Err(error) => Err(error.into()),
        };
        match result {
            Ok(()) => tracing::info!("password hash upgraded to current parameters"),
            Err(error) => tracing::warn!(error = %error, "password hash upgrade failed"),
        }
    }
}

impl From<CheckRefused> for LoginError {
    fn from(refusal: CheckRefused) -> Self {
        match refusal {
            CheckRefused::RateLimited(retry_after_secs) => Self::RateLimited { retry_after_secs },
            CheckRefused::Storage(e) => e.into(),
            CheckRefused::Hash(e) => e.into(),
        }
    }
}
