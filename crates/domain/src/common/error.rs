/// What went wrong in a storage adapter, as far as the domain cares.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store could not be reached or refused to serve right now
    /// (connection refused, pool timeout). Retrying later may succeed.
    #[error("storage is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug, a schema mismatch, corrupt data.
    #[error("unexpected storage error")]
    Unexpected(#[source] anyhow::Error),
}

/// Lets each listed use-case error (with `Unavailable` and `Unexpected`
/// variants) absorb a [`StorageError`] with `?`.
macro_rules! absorb_failures {
    ($($error:ident),*) => {$(
        impl From<$crate::common::StorageError> for $error {
            fn from(error: $crate::common::StorageError) -> Self {
                match error {
                    $crate::common::StorageError::Unavailable(e) => Self::Unavailable(e),
                    $crate::common::StorageError::Unexpected(e) => Self::Unexpected(e),
                }
            }
        }
    )*};
}

/// Lets each listed use-case error absorb a hashing failure with `?`: a
/// saturated hasher is `Unavailable` (503), anything else `Unexpected`.
macro_rules! absorb_hash_failures {
    ($($error:ident),*) => {$(
        impl From<$crate::user::HashError> for $error {
            fn from(error: $crate::user::HashError) -> Self {
                match error {
                    $crate::user::HashError::Busy => {
                        Self::Unavailable($crate::user::HashError::Busy.into())
                    }
                    $crate::user::HashError::Unexpected(e) => Self::Unexpected(e),
                }
            }
        }
    )*};
}

pub(crate) use {absorb_failures, absorb_hash_failures};
