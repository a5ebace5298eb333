//! Building blocks shared by every aggregate: storage errors, field errors and
//! the infrastructure ports (clock, ids, secrets).

mod error;
mod network;
mod page;
mod ports;
mod rate_limit;

pub use error::{FieldError, StorageError};
pub use network::rate_limit_subject;
pub use page::{Cursor, DEFAULT_PAGE_SIZE, InvalidCursor, MAX_PAGE_SIZE, Page, PageRequest};
pub use ports::{Clock, IdGenerator, SecretGenerator, TokenHash};
pub use rate_limit::{RateLimiter, WindowCount};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockClock, MockIdGenerator, MockSecretGenerator};
#[cfg(any(test, feature = "mocks"))]
pub use rate_limit::MockRateLimiter;
