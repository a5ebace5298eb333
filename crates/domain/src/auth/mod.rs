//! Authentication: signing up, logging in and authenticating requests.

mod account;
mod error;
mod limits;
mod model;
mod ports;
mod recovery;
mod service;
mod sessions;

pub use error::{
    AccountError, AuthenticateError, LoginError, MailFlowError, RefreshError, SessionError,
    SignupError, TokenRejection,
};
pub use limits::{LoginLimits, MAIL_WINDOW};
pub use model::{AccessClaims, Authenticated, IssuedTokens, LoginCommand, SignupCommand};
pub use ports::{IssueTokenError, TokenIssuer, TokenVerifier};
pub use recovery::{MailLinks, RESET_PASSWORD_TTL, VERIFY_EMAIL_TTL};
pub use service::{AuthPorts, AuthService, AuthSettings};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockTokenIssuer, MockTokenVerifier};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_account;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_recovery;
#[cfg(test)]
mod tests_sessions;
