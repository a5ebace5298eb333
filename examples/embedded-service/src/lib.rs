//! A service that embeds Auth Module's pure domain, `auth-domain`, with
//! adapters of its own.
//!
//! It depends on no part of auth-infra: no database, web framework, JWT or
//! Argon2. [`adapters`] implements every port the services need in memory,
//! [`wire`] builds the services from them the way `authd`'s composition
//! root (`Services::wire` in `crates/api/src/startup.rs`) does from its
//! production adapters, and [`Embedded::register`] is a small use-case of
//! this service's own on top of them. `project-docs/embedding.md` walks
//! through it.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use auth_domain::auth::LoginCommand;
//! use embedded_service::RegistrationForm;
//! use secrecy::ExposeSecret as _;
//!
//! let embedded = embedded_service::wire().await?;
//! embedded
//!     .register(RegistrationForm::new("ada@example.com", "correct horse battery staple"))
//!     .await?;
//! let (_, tokens) = embedded
//!     .auth
//!     .login(LoginCommand {
//!         email: "ada@example.com".into(),
//!         password: "correct horse battery staple".into(),
//!         client: Default::default(),
//!     })
//!     .await?;
//! let caller = embedded.auth.authenticate(tokens.access_token.expose_secret()).await?;
//! assert_eq!(caller.user.email.as_str(), "ada@example.com");
//! # Ok(())
//! # }
//! ```

pub mod adapters;
mod register;

use std::sync::Arc;

use anyhow::Context as _;
use auth_domain::audit::{AuditLog, Auditor};
use auth_domain::auth::{
    AuthPorts, AuthService, AuthSettings, LoginLimits, PasswordGuard, SessionIssuer, TokenIssuer,
    TokenVerifier,
};
use auth_domain::common::{Clock, IdGenerator, RateLimiter, SecretGenerator};
use auth_domain::mfa::{ChallengeIssuer, MfaChallengeRepository};
use auth_domain::recovery::ActionTokenRepository;
use auth_domain::session::{SessionRepository, SessionService};
use auth_domain::user::{
    AccountPorts, AccountService, Password, PasswordHasher, PasswordPolicy, UserRepository,
};
use secrecy::SecretString;

use adapters::{
    DemoPasswordHasher, InMemoryMfaChallenges, InMemoryRateLimiter, InMemoryStore, OpaqueTokens,
    RandomSecretGenerator, SystemClock, UuidV7Generator,
};
pub use register::{FieldError, RegisterError, RegistrationForm};

/// Every port the services work through, as the trait objects the domain
/// takes. [`Ports::in_memory`] fills them with this crate's adapters; replace
/// any field before [`wire_with`] (a `mockall` mock in a unit test, a
/// database adapter in production).
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Ports {
    /// User storage.
    pub users: Arc<dyn UserRepository>,
    /// Sessions and their refresh tokens.
    pub sessions: Arc<dyn SessionRepository>,
    /// The audit trail (sign-ups, log-ins, password changes, deletions…).
    pub audit: Arc<dyn AuditLog>,
    /// Mailed single-use tokens (a password change invalidates reset links).
    pub action_tokens: Arc<dyn ActionTokenRepository>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Counters for the limits on password checks.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Issues access tokens.
    pub token_issuer: Arc<dyn TokenIssuer>,
    /// Checks access tokens; must accept what `token_issuer` issues.
    pub token_verifier: Arc<dyn TokenVerifier>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New entity ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Refresh tokens and other secrets.
    pub secrets: Arc<dyn SecretGenerator>,
    /// Log-in challenges of users with a second factor.
    pub mfa_challenges: Arc<dyn MfaChallengeRepository>,
}

impl Ports {
    /// This crate's in-memory adapters, reading the time from `clock`.
    #[must_use]
    pub fn in_memory(clock: Arc<dyn Clock>) -> Self {
        // One store behind the three repositories, as one database would
        // be: deleting a user takes their sessions and tokens along.
        let store = Arc::new(InMemoryStore::new());
        let secrets: Arc<dyn SecretGenerator> = Arc::new(RandomSecretGenerator);
        // One table of access tokens behind both the issuer and the verifier.
        let tokens = Arc::new(OpaqueTokens::new(secrets.clone(), clock.clone()));
        Self {
            users: store.clone(),
            sessions: store.clone(),
            audit: store.clone(),
            action_tokens: store,
            hasher: Arc::new(DemoPasswordHasher::default()),
            rate_limiter: Arc::new(InMemoryRateLimiter::new()),
            token_issuer: tokens.clone(),
            token_verifier: tokens,
            clock,
            ids: Arc::new(UuidV7Generator),
            secrets,
            mfa_challenges: Arc::new(InMemoryMfaChallenges::default()),
        }
    }
}

/// Token lifetimes, limits on password checks, and the password policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// Access- and refresh-token lifetimes, and the refresh reuse grace.
    pub auth: AuthSettings,
    /// Limits on failed password checks.
    pub limits: LoginLimits,
    /// What [`Embedded::register`] asks of a new password.
    pub password_policy: PasswordPolicy,
}

/// The use-cases, wired to their adapters.
#[allow(missing_debug_implementations)]
pub struct Embedded {
    /// Sign-up, log-in, authentication.
    pub auth: Arc<AuthService>,
    /// Refresh, log-out, listing and revoking sessions.
    pub sessions: Arc<SessionService>,
    /// The signed-in user's own account: profile, password, deletion.
    pub account: Arc<AccountService>,
    password_policy: PasswordPolicy,
}

/// The services on this crate's in-memory adapters and the system clock,
/// with the default settings.
///
/// # Errors
/// When the dummy password hash cannot be computed (see [`wire_with`]).
pub async fn wire() -> anyhow::Result<Embedded> {
    wire_with(Ports::in_memory(Arc::new(SystemClock)), Settings::default()).await
}

/// The services on `ports`, wired as `authd`'s composition root wires them:
/// one [`SessionIssuer`] and one [`PasswordGuard`] shared by the services,
/// so that every password check counts against the same limits.
///
/// Hashes a random password once, so that a log-in for an unknown address
/// costs the same hashing work as one for a known address; the hasher must
/// therefore run inside a Tokio runtime if it needs one (this crate's does).
///
/// # Errors
/// When the hasher fails on the dummy password.
pub async fn wire_with(ports: Ports, settings: Settings) -> anyhow::Result<Embedded> {
    let dummy_password = Password::parse(
        SecretString::from(ports.secrets.generate()),
        &PasswordPolicy::default(),
        None,
    )?;
    let dummy_hash = ports
        .hasher
        .hash(&dummy_password)
        .await
        .context("could not compute the dummy password hash")?;
    let issuer = SessionIssuer::new(
        ports.sessions.clone(),
        ports.token_issuer.clone(),
        ports.clock.clone(),
        ports.ids.clone(),
        ports.secrets.clone(),
        settings.auth,
    );
    let guard = PasswordGuard::new(
        ports.hasher.clone(),
        ports.rate_limiter.clone(),
        settings.limits,
        ports.clock.clone(),
    );
    let auditor = Auditor::new(ports.audit.clone(), ports.ids.clone(), ports.clock.clone());
    let auth = Arc::new(AuthService::new(
        AuthPorts {
            users: ports.users.clone(),
            sessions: ports.sessions.clone(),
            hasher: ports.hasher.clone(),
            verifier: ports.token_verifier.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
            mfa: ChallengeIssuer::new(
                ports.mfa_challenges.clone(),
                ports.secrets.clone(),
                ports.ids.clone(),
                ports.clock.clone(),
            ),
            audit: auditor.clone(),
        },
        issuer.clone(),
        guard.clone(),
        dummy_hash,
    ));
    let sessions = Arc::new(SessionService::new(
        ports.sessions.clone(),
        issuer,
        ports.clock.clone(),
        auditor.clone(),
    ));
    let account = Arc::new(AccountService::new(AccountPorts {
        users: ports.users,
        hasher: ports.hasher,
        guard,
        clock: ports.clock,
        audit: auditor,
    }));
    Ok(Embedded {
        auth,
        sessions,
        account,
        password_policy: settings.password_policy,
    })
}
