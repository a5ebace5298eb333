//! Mail: the outgoing-message port.

use async_trait::async_trait;

use crate::user::Email;

/// A plain-text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The text/plain body.
    pub text: String,
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
#[error("mail could not be sent")]
pub struct MailError(#[source] pub anyhow::Error);

/// Sends mail.
///
/// # Errors
/// [`MailError`] when the message could not be handed to the mail system.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message.
    async fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}
