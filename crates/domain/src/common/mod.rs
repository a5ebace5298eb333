//! Building blocks shared by every aggregate: storage errors, field errors and
//! the infrastructure ports (clock, ids, secrets).

mod error;
mod ports;

pub use error::{FieldError, StorageError};
pub use ports::{Clock, IdGenerator, SecretGenerator, TokenHash};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockClock, MockIdGenerator, MockSecretGenerator};
