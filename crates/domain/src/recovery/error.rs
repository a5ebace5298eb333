/// Why an e-mail verification or password reset step failed.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The token is unknown, used or expired.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The new password breaks the policy.
    #[error("invalid new password: {0}")]
    InvalidPassword(crate::user::PasswordError),
    /// No user has this address (the operator's `set_password`).
    #[error("no user with this e-mail address")]
    UnknownUser,
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

crate::common::absorb_failures!(RecoveryError);
crate::common::absorb_hash_failures!(RecoveryError);
