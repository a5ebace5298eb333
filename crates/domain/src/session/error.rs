//! Why session use-cases fail.

use crate::auth::IssueTokenError;

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked or reused refresh token, or a disabled user.
    #[error("invalid refresh token")]
    InvalidToken,
    /// Storage is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

/// Why listing or revoking sessions failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No such live session of this user.
    #[error("session not found")]
    NotFound,
    /// Storage is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

crate::common::absorb_failures!(RefreshError, SessionError);

impl From<IssueTokenError> for RefreshError {
    fn from(error: IssueTokenError) -> Self {
        Self::Unexpected(error.into())
    }
}
