use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::common::TokenHash;
use crate::user::UserId;

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Proves the user owns their e-mail address (TTL 24 h).
    VerifyEmail,
    /// Lets the user set a new password (TTL 1 h).
    ResetPassword,
}

impl TokenPurpose {
    /// The storage name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// A single-use token sent by mail; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionToken {
    /// Stable id.
    pub id: Uuid,
    /// Whose token it is.
    pub user_id: UserId,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// SHA-256 of the token.
    pub hash: TokenHash,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}
