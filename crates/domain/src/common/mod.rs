//! Building blocks shared by every aggregate: storage errors, names, rate limits and
//! the infrastructure ports (clock, ids, secrets).

mod error;
mod name;
mod network;
mod operations;
mod page;
mod ports;
mod rate_limit;

pub use error::StorageError;
pub(crate) use error::{absorb_failures, absorb_hash_failures};
pub(crate) use name::parse_name;
pub use name::{DIRECTION_CONTROLS, INVISIBLE, MAX_NAME_LENGTH, NAME_PATTERN, NameError};
pub use network::rate_limit_subject;
pub use operations::{HashingLoad, Readiness};
pub use page::{Cursor, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest};
pub use ports::{Clock, IdGenerator, SecretGenerator, TokenHash};
pub use rate_limit::{RateLimiter, WindowCount, hit_one_by_one};

#[cfg(any(test, feature = "mocks"))]
pub use operations::{MockHashingLoad, MockReadiness};
#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockClock, MockIdGenerator, MockSecretGenerator};
#[cfg(any(test, feature = "mocks"))]
pub use rate_limit::MockRateLimiter;
