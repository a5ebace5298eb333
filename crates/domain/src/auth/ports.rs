use super::{AccessClaims, TokenRejection};

/// Why an access token could not be issued.
#[derive(Debug, thiserror::Error)]
#[error("could not sign the access token")]
pub struct IssueTokenError(#[source] pub anyhow::Error);

/// Signs access tokens.
///
/// # Errors
/// [`IssueTokenError`] only when signing itself fails (a broken key).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// Encodes and signs the claims.
    fn issue(&self, claims: &AccessClaims) -> Result<String, IssueTokenError>;
}

/// Checks access tokens presented by clients.
///
/// Implementations accept only their configured algorithm and keys, and check
/// issuer, audience, expiry and not-before against the injected clock.
///
/// # Errors
/// A [`TokenRejection`] saying why the token is refused.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenVerifier: Send + Sync {
    /// Verifies the token and returns its claims.
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection>;
}
