use std::sync::Arc;

use chrono::TimeDelta;
use secrecy::SecretString;

use super::MailLinks;
use super::limits::{AttemptKeys, LoginLimits};
use super::{
    AccessClaims, AuthenticateError, Authenticated, IssueTokenError, IssuedTokens, LoginCommand,
    LoginError, SignupCommand, SignupError, TokenIssuer, TokenVerifier,
};
use crate::common::{Clock, IdGenerator, RateLimiter, SecretGenerator, StorageError, TokenHash};
use crate::mail::{ActionTokenRepository, Mailer};
use crate::session::{
    ClientInfo, RefreshToken, RefreshTokenId, Session, SessionId, SessionRepository,
};
use crate::user::{
    Email, Password, PasswordHash, PasswordHasher, PasswordVerification, User, UserId,
    UserRepository,
};

/// Lifetimes of the tokens the service hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSettings {
    /// How long an access token is valid.
    pub access_ttl: TimeDelta,
    /// How long a refresh token (and so an idle session) is valid.
    pub refresh_ttl: TimeDelta,
    /// How long an already-rotated refresh token may be replayed for a fresh
    /// pair (racing clients) before a replay counts as theft.
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

/// The ports [`AuthService`] works through.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct AuthPorts {
    /// User storage.
    pub users: Arc<dyn UserRepository>,
    /// Session storage.
    pub sessions: Arc<dyn SessionRepository>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Access-token signing.
    pub issuer: Arc<dyn TokenIssuer>,
    /// Access-token checking.
    pub verifier: Arc<dyn TokenVerifier>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New entity ids.
    pub ids: Arc<dyn IdGenerator>,
    /// New refresh tokens.
    pub secrets: Arc<dyn SecretGenerator>,
}

/// Signing up, logging in and authenticating requests.
#[allow(missing_debug_implementations)]
pub struct AuthService {
    pub(super) ports: AuthPorts,
    pub(super) settings: AuthSettings,
    pub(super) limiter: Option<(Arc<dyn RateLimiter>, LoginLimits)>,
    pub(super) mail_limit: Option<(Arc<dyn RateLimiter>, u64)>,
    pub(super) mail: Option<(Arc<dyn Mailer>, Arc<dyn ActionTokenRepository>)>,
    pub(super) mail_links: MailLinks,
    /// A hash of a random password, verified when the e-mail address is
    /// unknown so that both log-in failures cost the same time.
    dummy_hash: PasswordHash,
}

impl AuthService {
    /// Builds the service. `dummy_hash` must come from the same hasher with the
    /// same parameters as real hashes, so verifying it takes as long.
    #[must_use]
    pub fn new(ports: AuthPorts, settings: AuthSettings, dummy_hash: PasswordHash) -> Self {
        Self {
            ports,
            settings,
            limiter: None,
            mail_limit: None,
            mail: None,
            mail_links: MailLinks::default(),
            dummy_hash,
        }
    }

    /// Enables e-mail verification and password reset, mailing links built
    /// from `links`.
    #[must_use]
    pub fn with_mail(
        mut self,
        mailer: Arc<dyn Mailer>,
        tokens: Arc<dyn ActionTokenRepository>,
        links: MailLinks,
    ) -> Self {
        self.mail = Some((mailer, tokens));
        self.mail_links = links;
        self
    }

    /// Limits failed password checks (log-in, password change, account
    /// deletion) per account and address, counted by `limiter`.
    #[must_use]
    pub fn with_login_limits(mut self, limiter: Arc<dyn RateLimiter>, limits: LoginLimits) -> Self {
        self.limiter = Some((limiter, limits));
        self
    }

    /// Sends at most `per_hour` verification and reset mails to one address
    /// per hour, counted by `limiter`.
    #[must_use]
    pub fn with_mail_limit(mut self, limiter: Arc<dyn RateLimiter>, per_hour: u64) -> Self {
        self.mail_limit = Some((limiter, per_hour));
        self
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
        let password_hash = self.ports.hasher.hash(&command.password).await?;
        let now = self.ports.clock.now();
        let user = User {
            id: UserId(self.ports.ids.new_id()),
            email: command.email,
            password_hash,
            display_name: command.display_name,
            email_verified: false,
            role: crate::user::Role::User,
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        self.ports.users.insert(&user).await?;
        let tokens = self
            .open_session::<SignupError>(&user, command.client)
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
        role: crate::user::Role,
    ) -> Result<User, SignupError> {
        let password_hash = self.ports.hasher.hash(&password).await?;
        let now = self.ports.clock.now();
        let user = User {
            id: UserId(self.ports.ids.new_id()),
            email,
            password_hash,
            display_name: None,
            email_verified: false,
            role,
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        self.ports.users.insert(&user).await?;
        Ok(user)
    }

    /// Checks an e-mail address and password and opens a session.
    ///
    /// The attempt is counted against the limits before any hashing.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for an unknown address or a wrong
    /// password (after the same amount of hashing work);
    /// [`LoginError::AccountDisabled`] only once the password was right;
    /// [`LoginError::RateLimited`] past a limit, with no password checked.
    #[tracing::instrument(name = "login", skip_all, fields(user_id))]
    pub async fn login(&self, command: LoginCommand) -> Result<(User, IssuedTokens), LoginError> {
        let email = Email::parse(&command.email).ok();
        let account_key = email.as_ref().map_or_else(
            || command.email.trim().to_lowercase(),
            |e| e.as_str().to_owned(),
        );
        let keys = AttemptKeys::new(&account_key, command.client.ip.as_deref());
        self.reserve_password_check(&keys).await?;
        let result = self.check_credentials(email.as_ref(), &command).await;
        match &result {
            Err(LoginError::InvalidCredentials) => {}
            Ok(_) | Err(LoginError::AccountDisabled) => self.password_check_passed(&keys).await,
            Err(_) => self.password_check_not_made(&keys).await,
        }
        let user = result?;
        let tokens = self
            .open_session::<LoginError>(&user, command.client)
            .await?;
        Ok((user, tokens))
    }

    /// The user whose password this is, or why not.
    async fn check_credentials(
        &self,
        email: Option<&Email>,
        command: &LoginCommand,
    ) -> Result<User, LoginError> {
        let user = match email {
            Some(email) => self.ports.users.find_by_email(email).await?,
            None => None,
        };
        let Some(user) = user else {
            // Same work as for a real account, then the same answer.
            self.ports
                .hasher
                .verify(&command.password, &self.dummy_hash)
                .await?;
            return Err(LoginError::InvalidCredentials);
        };
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        let needs_rehash = match self
            .ports
            .hasher
            .verify(&command.password, &user.password_hash)
            .await?
        {
            PasswordVerification::Mismatch => return Err(LoginError::InvalidCredentials),
            PasswordVerification::Match { needs_rehash } => needs_rehash,
        };
        if !user.is_active {
            return Err(LoginError::AccountDisabled);
        }
        if needs_rehash {
            self.upgrade_hash(&user, command.password.clone()).await;
        }
        Ok(user)
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
                .update_password_hash(user.id, &hash, self.ports.clock.now())
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

    /// Starts a session for `user` and issues its first token pair.
    async fn open_session<E>(&self, user: &User, client: ClientInfo) -> Result<IssuedTokens, E>
    where
        E: From<StorageError> + From<IssueTokenError>,
    {
        let now = self.ports.clock.now();
        let session = Session {
            id: SessionId(self.ports.ids.new_id()),
            user_id: user.id,
            client,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.refresh_ttl,
            revoked_at: None,
        };
        let (refresh_token, stored) = self.new_refresh_token(session.id, now);
        self.ports.sessions.insert(&session, &stored).await?;
        Ok(self.token_pair(user, session.id, refresh_token)?)
    }

    /// A fresh refresh token for `session`: the plaintext for the client and
    /// the record to store.
    pub(super) fn new_refresh_token(
        &self,
        session: SessionId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (SecretString, RefreshToken) {
        let plaintext = self.ports.secrets.generate();
        let record = RefreshToken {
            id: RefreshTokenId(self.ports.ids.new_id()),
            session_id: session,
            hash: TokenHash::of(&plaintext),
            created_at: now,
            expires_at: now + self.settings.refresh_ttl,
            rotated_at: None,
        };
        (SecretString::from(plaintext), record)
    }

    /// An access token for `user` in `session`, paired with `refresh_token`.
    pub(super) fn token_pair(
        &self,
        user: &User,
        session: SessionId,
        refresh_token: SecretString,
    ) -> Result<IssuedTokens, IssueTokenError> {
        Ok(IssuedTokens {
            access_token: SecretString::from(self.issue_access_token(user, session)?),
            expires_in: self.settings.access_ttl.num_seconds(),
            refresh_token,
            session_id: session,
        })
    }

    fn issue_access_token(
        &self,
        user: &User,
        session_id: SessionId,
    ) -> Result<String, IssueTokenError> {
        let now = self.ports.clock.now();
        self.ports.issuer.issue(&AccessClaims {
            user_id: user.id,
            session_id,
            role: user.role,
            issued_at: now,
            expires_at: now + self.settings.access_ttl,
            token_id: self.ports.ids.new_id(),
        })
    }
}
