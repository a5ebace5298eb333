use crate::user::CreateUserError;

use super::IssueTokenError;

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
    /// The password was right, and the user's second factor is on: answer
    /// the challenge with a code to get tokens.
    #[error("second factor required")]
    MfaRequired {
        /// The opaque, single-use challenge token (5 minutes).
        mfa_token: secrecy::SecretString,
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

crate::common::absorb_failures!(SignupError, LoginError, AuthenticateError);
crate::common::absorb_hash_failures!(SignupError, LoginError);

impl From<IssueTokenError> for SignupError {
    fn from(error: IssueTokenError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<IssueTokenError> for LoginError {
    fn from(error: IssueTokenError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<CreateUserError> for SignupError {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::EmailTaken => Self::EmailTaken,
            CreateUserError::Storage(e) => e.into(),
        }
    }
}
