//! What every handler can reach.

use std::sync::Arc;

use auth_domain::audit::AuditService;
use auth_domain::auth::AuthService;
use auth_domain::common::{Clock, HashingLoad, RateLimiter, Readiness};
use auth_domain::mfa::{MfaChallengeService, MfaService};
use auth_domain::project::ProjectService;
use auth_domain::recovery::RecoveryService;
use auth_domain::session::SessionService;
use auth_domain::user::{AccountService, AdminService, PasswordPolicy};

use crate::extractors::TrustedProxies;

/// Shared application state, behind `web::Data`.
#[allow(missing_debug_implementations)]
pub struct AppState {
    /// Sign-up, log-in and authentication.
    pub auth: Arc<AuthService>,
    /// Refresh, log-out and session revocation.
    pub sessions: Arc<SessionService>,
    /// The caller's own account.
    pub account: Arc<AccountService>,
    /// E-mail verification and password reset.
    pub recovery: Arc<RecoveryService>,
    /// Projects of the caller.
    pub projects: Arc<ProjectService>,
    /// User management.
    pub admin: Arc<AdminService>,
    /// The caller's second factor, and an administrator's reset of it.
    pub mfa: Arc<MfaService>,
    /// Log-in challenges of users with a second factor.
    pub mfa_login: Arc<MfaChallengeService>,
    /// The audit trail.
    pub audit: Arc<AuditService>,
    /// Rules for new passwords.
    pub password_policy: PasswordPolicy,
    /// The database, for the readiness probe.
    pub readiness: Arc<dyn Readiness>,
    /// After `serve --no-migrate` on a schema that lacked migrations: the
    /// readiness probe's check that they have been applied since.
    pub schema: Option<Arc<crate::routes::health::SchemaCheck>>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// The public keys, as served at `/.well-known/jwks.json`.
    pub jwks: serde_json::Value,
    /// Shared request counters.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// The time, for the per-address windows.
    pub clock: Arc<dyn Clock>,
    /// Requests per client address and minute on `/auth/*`; 0 disables.
    pub ip_per_minute: u32,
    /// Request and log-in metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The password hashing pool (its queue depth is a metric).
    pub hashing: Arc<dyn HashingLoad>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
}
