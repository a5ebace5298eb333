//! Sessions: one per sign-in, each holding a family of refresh tokens, and
//! the use-cases that refresh, list and revoke them.

mod error;
mod model;
mod ports;
mod service;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_revocation;

pub use error::{RefreshError, SessionError};
pub use model::{
    AuthMethods, ClientInfo, RefreshToken, RefreshTokenDraft, RefreshTokenId, Session, SessionId,
};
pub use ports::SessionRepository;
pub use service::SessionService;

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockSessionRepository;
