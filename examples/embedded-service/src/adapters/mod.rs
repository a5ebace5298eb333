//! This service's own adapters for auth-domain's ports, all in memory.
//!
//! | port | adapter |
//! | --- | --- |
//! | `UserRepository`, `SessionRepository`, `ActionTokenRepository` | [`InMemoryStore`] |
//! | `RateLimiter` | [`InMemoryRateLimiter`] |
//! | `MfaChallengeRepository` | [`InMemoryMfaChallenges`] |
//! | `TokenIssuer`, `TokenVerifier` | [`OpaqueTokens`] |
//! | `PasswordHasher` | [`DemoPasswordHasher`] (demonstration only) |
//! | `Clock` | [`SystemClock`], [`ManualClock`] for tests |
//! | `IdGenerator` | [`UuidV7Generator`] |
//! | `SecretGenerator` | [`RandomSecretGenerator`] |

mod hasher;
mod mfa;
mod rate_limiter;
mod store;
mod system;
mod tokens;

pub use hasher::{DEFAULT_CAPACITY, DEFAULT_ITERATIONS, DemoPasswordHasher};
pub use mfa::InMemoryMfaChallenges;
pub use rate_limiter::InMemoryRateLimiter;
pub use store::InMemoryStore;
pub use system::{ManualClock, RandomSecretGenerator, SystemClock, UuidV7Generator};
pub use tokens::OpaqueTokens;

use auth_domain::common::StorageError;

/// A lock poisoned by a panic while it was held: the state behind it may
/// be half changed, so it is an unexpected storage error, not a panic here.
fn poisoned<T>(_: std::sync::PoisonError<T>) -> StorageError {
    StorageError::Unexpected(anyhow::anyhow!(
        "in-memory state poisoned by a panic during a change"
    ))
}
