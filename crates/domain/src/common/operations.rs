//! Ports the operator's probes read: whether the stores answer, and how
//! busy password hashing is. No use-case needs them; the HTTP edge serves
//! them at `/health/ready` and `/metrics` without knowing the adapters.

use async_trait::async_trait;

use super::StorageError;

/// Whether the stores the service depends on answer right now.
///
/// # Errors
/// [`StorageError::Unavailable`] when a store does not answer (the probe
/// reports "not ready"); `Unexpected` for anything else.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Readiness: Send + Sync {
    /// Checks the stores with the cheapest round trip they offer.
    async fn check(&self) -> Result<(), StorageError>;
}

/// How busy the password hashing capacity is.
///
/// # Errors
/// None: these are gauges read from memory.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait HashingLoad: Send + Sync {
    /// Hashes accepted and waiting for a worker.
    fn queue_depth(&self) -> usize;

    /// Threads computing hashes.
    fn workers(&self) -> usize;

    /// Hashes computed since start.
    fn finished(&self) -> u64;

    /// Hashes dropped unstarted since start, because nobody waited for
    /// them any more (the client had gone).
    fn abandoned(&self) -> u64;
}
