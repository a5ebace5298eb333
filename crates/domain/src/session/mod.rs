//! Sessions: one per sign-in, holding the refresh token family.

mod model;
mod ports;

pub use model::{ClientInfo, Session, SessionId};
pub use ports::SessionRepository;

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockSessionRepository;
