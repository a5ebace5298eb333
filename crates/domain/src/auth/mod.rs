//! Authentication: signing up, logging in and authenticating requests.

mod error;
mod model;
mod ports;
mod service;

pub use error::{AuthenticateError, LoginError, SignupError, TokenRejection};
pub use model::{AccessClaims, Authenticated, IssuedTokens, LoginCommand, SignupCommand};
pub use ports::{IssueTokenError, TokenIssuer, TokenVerifier};
pub use service::{AuthPorts, AuthService, AuthSettings};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockTokenIssuer, MockTokenVerifier};

#[cfg(test)]
mod tests;
