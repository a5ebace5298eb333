use crate::common::StorageError;
use crate::user::{CreateUserError, HashError};

use super::IssueTokenError;
use super::limits::CheckRefused;

/// Why a sign-up failed.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// Another account has this e-mail address.
    #[error("e-mail address is taken")]
    EmailTaken,
    /// Storage or hashing capacity is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

/// Why a log-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown e-mail address or wrong password; the two are indistinguishable.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password was right, but an administrator disabled the account.
    #[error("account disabled")]
    AccountDisabled,
    /// Too many failed attempts for this account (from this address, or
    /// from all addresses); no password was checked.
    #[error("too many failed log-ins")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// Storage or hashing capacity is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

/// Why an access token was refused by the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a well-formed token, or claims missing or of the wrong type.
    #[error("malformed token")]
    Malformed,
    /// Signed with another algorithm than the configured one.
    #[error("unexpected signing algorithm")]
    WrongAlgorithm,
    /// Signed with a key this server does not know.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not match.
    #[error("invalid signature")]
    BadSignature,
    /// Past its `exp`.
    #[error("token expired")]
    Expired,
    /// Before its `nbf`.
    #[error("token not yet valid")]
    NotYetValid,
    /// Another issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// Meant for another audience.
    #[error("wrong audience")]
    WrongAudience,
}

/// Why a request could not be authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// The verifier refused the token.
    #[error("access token rejected: {0}")]
    Rejected(#[from] TokenRejection),
    /// The token's session is gone, revoked or expired.
    #[error("session is no longer valid")]
    SessionInvalid,
    /// The token's user is gone or disabled.
    #[error("user is no longer valid")]
    UserInvalid,
    /// Storage is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

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

/// Why a change to the caller's own account failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The confirming password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// Too many failed password checks for this account; no password was
    /// checked.
    #[error("too many failed password checks")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// The last active administrator cannot delete their account.
    #[error("the last active administrator cannot be deleted")]
    LastAdmin,
    /// The user vanished meanwhile.
    #[error("user not found")]
    NotFound,
    /// Storage or hashing capacity is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

/// Why an e-mail verification or password reset step failed.
#[derive(Debug, thiserror::Error)]
pub enum MailFlowError {
    /// The token is unknown, used or expired.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The new password breaks the policy.
    #[error("invalid new password: {0}")]
    InvalidPassword(crate::user::PasswordError),
    /// The token's account was disabled by an administrator; nothing changed.
    #[error("account disabled")]
    AccountDisabled,
    /// The hourly allowance of mails to this address is used up; nothing
    /// was sent.
    #[error("too many mails to this address")]
    RateLimited {
        /// Seconds until the allowance is renewed.
        retry_after_secs: u64,
    },
    /// Storage, hashing capacity or the mailer is unavailable.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

/// Lets each use-case error absorb the shared failure kinds with `?`.
macro_rules! absorb_failures {
    ($($error:ident),*) => {$(
        impl From<StorageError> for $error {
            fn from(error: StorageError) -> Self {
                match error {
                    StorageError::Unavailable(e) => Self::Unavailable(e),
                    StorageError::Unexpected(e) => Self::Unexpected(e),
                }
            }
        }

        impl From<IssueTokenError> for $error {
            fn from(error: IssueTokenError) -> Self {
                Self::Unexpected(error.into())
            }
        }
    )*};
}

absorb_failures!(
    SignupError,
    LoginError,
    AuthenticateError,
    RefreshError,
    SessionError,
    AccountError,
    MailFlowError
);

macro_rules! absorb_hash_failures {
    ($($error:ident),*) => {$(
        impl From<HashError> for $error {
            fn from(error: HashError) -> Self {
                match error {
                    HashError::Busy => Self::Unavailable(HashError::Busy.into()),
                    HashError::Unexpected(e) => Self::Unexpected(e),
                }
            }
        }
    )*};
}

absorb_hash_failures!(SignupError, LoginError, AccountError, MailFlowError);

impl From<CreateUserError> for SignupError {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::EmailTaken => Self::EmailTaken,
            CreateUserError::Storage(e) => e.into(),
        }
    }
}

macro_rules! absorb_check_refusals {
    ($($error:ident),*) => {$(
        impl From<CheckRefused> for $error {
            fn from(refusal: CheckRefused) -> Self {
                match refusal {
                    CheckRefused::RateLimited(retry_after_secs) => {
                        Self::RateLimited { retry_after_secs }
                    }
                    CheckRefused::Storage(e) => e.into(),
                }
            }
        }
    )*};
}

absorb_check_refusals!(LoginError, AccountError);
