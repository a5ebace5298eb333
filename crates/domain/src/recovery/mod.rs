//! E-mail verification and password recovery: single-use links sent by
//! mail, and the use-cases that issue and redeem them.

mod error;
mod model;
mod ports;
mod service;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reset;

pub use error::RecoveryError;
pub use model::{ActionToken, TokenPurpose};
pub use ports::ActionTokenRepository;
pub use service::{
    MAIL_WINDOW, MailLinks, MailSettings, RESET_PASSWORD_TTL, RecoveryPorts, RecoveryService,
    VERIFY_EMAIL_TTL,
};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockActionTokenRepository;
