use std::sync::Arc;

use chrono::TimeDelta;
use secrecy::SecretString;

use super::{
    AccessClaims, AuthenticateError, Authenticated, IssueTokenError, IssuedTokens, LoginCommand,
    LoginError, SignupCommand, SignupError, TokenIssuer, TokenVerifier,
};
use crate::common::{Clock, IdGenerator, SecretGenerator, StorageError, TokenHash};
use crate::session::{ClientInfo, Session, SessionId, SessionRepository};
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
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_ttl: TimeDelta::seconds(900),
            refresh_ttl: TimeDelta::days(30),
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
    ports: AuthPorts,
    settings: AuthSettings,
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

    /// Checks an e-mail address and password and opens a session.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for an unknown address or a wrong
    /// password (after the same amount of hashing work);
    /// [`LoginError::AccountDisabled`] only once the password was right.
    #[tracing::instrument(name = "login", skip_all, fields(user_id))]
    pub async fn login(&self, command: LoginCommand) -> Result<(User, IssuedTokens), LoginError> {
        let user = match Email::parse(&command.email) {
            Ok(email) => self.ports.users.find_by_email(&email).await?,
            Err(_) => None,
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
            self.upgrade_hash(&user, command.password).await;
        }
        let tokens = self
            .open_session::<LoginError>(&user, command.client)
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
        let refresh_token = self.ports.secrets.generate();
        let session = Session {
            id: SessionId(self.ports.ids.new_id()),
            user_id: user.id,
            refresh_token_hash: TokenHash::of(&refresh_token),
            previous_token_hash: None,
            rotated_at: None,
            client,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.refresh_ttl,
            revoked_at: None,
        };
        self.ports.sessions.insert(&session).await?;
        let access_token = self.issue_access_token(user, session.id)?;
        Ok(IssuedTokens {
            access_token,
            expires_in: self.settings.access_ttl.num_seconds(),
            refresh_token: SecretString::from(refresh_token),
            session_id: session.id,
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
