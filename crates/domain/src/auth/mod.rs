//! Authentication: signing up, logging in and authenticating requests, the
//! session issuer those share with refresh, and the guard every password
//! check goes through.

mod error;
mod guard;
mod issuer;
mod model;
mod ports;
mod service;

pub use error::{AuthenticateError, LoginError, SignupError, TokenRejection};
pub use guard::{CheckRefused, LoginLimits, PasswordGuard, retry_after};
pub use issuer::{AuthSettings, SessionIssuer};
pub use model::{AccessClaims, Authenticated, IssuedTokens, LoginCommand, SignupCommand};
pub use ports::{IssueTokenError, TokenIssuer, TokenVerifier};
pub use service::{AuthPorts, AuthService};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockTokenIssuer, MockTokenVerifier};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_authenticate;
#[cfg(test)]
mod tests_limits;
