//! What every handler can reach.

use std::sync::Arc;

use auth_domain::auth::AuthService;
use auth_domain::user::PasswordPolicy;
use sea_orm::DatabaseConnection;

use crate::extractors::TrustedProxies;

/// Shared application state, behind `web::Data`.
#[allow(missing_debug_implementations)]
pub struct AppState {
    /// Sign-up, log-in and authentication.
    pub auth: Arc<AuthService>,
    /// Rules for new passwords.
    pub password_policy: PasswordPolicy,
    /// The database, for the readiness probe.
    pub db: DatabaseConnection,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Largest request body, in bytes.
    pub body_limit: usize,
}
