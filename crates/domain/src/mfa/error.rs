use super::CipherError;
use crate::auth::{CheckRefused, IssueTokenError};

/// Why a change to the caller's second factor failed.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The confirming password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// The one-time or recovery code is wrong, expired or already used.
    #[error("invalid code")]
    InvalidCode,
    /// The second factor is on already.
    #[error("second factor already enabled")]
    AlreadyEnabled,
    /// The second factor is not on (or no enrolment is pending).
    #[error("second factor not enabled")]
    NotEnabled,
    /// The user does not exist.
    #[error("user not found")]
    NotFound,
    /// Too many failed checks for this account; nothing was checked.
    #[error("too many failed checks")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// Storage or hashing capacity is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency (a secret that does not open).
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

/// Why answering a log-in challenge failed.
#[derive(Debug, thiserror::Error)]
pub enum MfaVerifyError {
    /// The `mfa_token` is unknown, used or expired.
    #[error("invalid mfa token")]
    InvalidToken,
    /// The one-time or recovery code is wrong, expired or already used.
    #[error("invalid code")]
    InvalidCode,
    /// An administrator disabled the account meanwhile.
    #[error("account disabled")]
    AccountDisabled,
    /// Too many failed checks for this account; no code was checked.
    #[error("too many failed checks")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// Storage is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

crate::common::absorb_failures!(MfaError, MfaVerifyError);
crate::common::absorb_hash_failures!(MfaError);

impl From<CheckRefused> for MfaError {
    fn from(refusal: CheckRefused) -> Self {
        match refusal {
            CheckRefused::RateLimited(retry_after_secs) => Self::RateLimited { retry_after_secs },
            CheckRefused::Storage(e) => e.into(),
            CheckRefused::Hash(e) => e.into(),
        }
    }
}

impl From<CheckRefused> for MfaVerifyError {
    fn from(refusal: CheckRefused) -> Self {
        match refusal {
            CheckRefused::RateLimited(retry_after_secs) => Self::RateLimited { retry_after_secs },
            CheckRefused::Storage(e) => e.into(),
            CheckRefused::Hash(e) => Self::Unexpected(e.into()),
        }
    }
}

impl From<CipherError> for MfaError {
    fn from(error: CipherError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<CipherError> for MfaVerifyError {
    fn from(error: CipherError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<IssueTokenError> for MfaVerifyError {
    fn from(error: IssueTokenError) -> Self {
        Self::Unexpected(error.into())
    }
}
