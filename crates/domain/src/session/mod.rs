//! Sessions: one per sign-in, each holding a family of refresh tokens.

mod model;
mod ports;

pub use model::{ClientInfo, RefreshToken, RefreshTokenId, Session, SessionId};
pub use ports::SessionRepository;

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockSessionRepository;
