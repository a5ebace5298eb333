//! A demonstration password hasher. Not for production.

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use auth_domain::user::{HashError, Password, PasswordHash, PasswordHasher, PasswordVerification};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

/// The algorithm's name in the PHC-like strings this hasher writes.
const ALGORITHM: &str = "demo-sha256";

/// Iterations for new hashes unless told otherwise.
pub const DEFAULT_ITERATIONS: u32 = 10_000;

/// Hashes being computed or waiting, at most, unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 16;

/// **Demonstration only.** Salted, iterated SHA-256, written as a PHC-like
/// string `$demo-sha256$i=10000$<salt>$<digest>` (standard base64 without
/// padding, as PHC strings use).
///
/// It shows what the [`PasswordHasher`] port asks of an implementation (a
/// fresh salt per hash, parameters recorded in the hash so that they can
/// change, `needs_rehash` when they did, a constant-time comparison, a
/// malformed stored hash reported as an error rather than a mismatch, the
/// work kept off the async executor with a bounded queue), but SHA-256 is
/// fast and needs no memory, so GPUs guess such hashes by the billion.
/// Production must use a memory-hard hash such as auth-infra's
/// `Argon2PasswordHasher` (Argon2id on a bounded blocking pool).
///
/// Needs a Tokio runtime: the work runs on `spawn_blocking` threads.
#[derive(Debug, Clone)]
pub struct DemoPasswordHasher {
    iterations: u32,
    /// Admits a hash or verification only while fewer than the capacity are
    /// running or queued; beyond that the caller gets [`HashError::Busy`].
    slots: Arc<Semaphore>,
}

impl Default for DemoPasswordHasher {
    fn default() -> Self {
        Self::new(DEFAULT_ITERATIONS, DEFAULT_CAPACITY)
    }
}

impl DemoPasswordHasher {
    /// New hashes with `iterations` rounds; at most `capacity` hashes in
    /// flight. Both at least 1.
    #[must_use]
    pub fn new(iterations: u32, capacity: usize) -> Self {
        Self {
            iterations: iterations.max(1),
            slots: Arc::new(Semaphore::new(capacity.max(1))),
        }
    }

    /// Runs `job` on a blocking thread if a slot is free.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            job()
        })
        .await
        .map_err(|e| HashError::Unexpected(anyhow!("hashing task failed: {e}")))?
        .map_err(HashError::Unexpected)
    }
}

/// `iterations` rounds of SHA-256 over the salt and password.
fn stretch(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut state: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into();
    for _ in 1..iterations {
        state = Sha256::new()
            .chain_update(state)
            .chain_update(password)
            .finalize()
            .into();
    }
    state
}

/// Compares without stopping at the first difference, so the time taken
/// tells nothing about how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The parts of a stored hash.
struct Parsed {
    iterations: u32,
    salt: Vec<u8>,
    digest: Vec<u8>,
}

fn parse(stored: &str) -> anyhow::Result<Parsed> {
    let mut fields = stored.split('$');
    let (Some(""), Some(ALGORITHM), Some(params), Some(salt), Some(digest), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        anyhow::bail!("stored password hash is not a {ALGORITHM} PHC string");
    };
    let iterations = params
        .strip_prefix("i=")
        .and_then(|i| i.parse::<u32>().ok())
        .filter(|i| *i > 0)
        .context("stored password hash has no valid iteration count")?;
    Ok(Parsed {
        iterations,
        salt: B64.decode(salt).context("stored password hash: salt")?,
        digest: B64.decode(digest).context("stored password hash: digest")?,
    })
}

#[async_trait]
impl PasswordHasher for DemoPasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let secret = password.secret().clone();
        let iterations = self.iterations;
        self.run(move || {
            let mut salt = [0_u8; 16];
            rand::rng().fill_bytes(&mut salt);
            let digest = stretch(secret.expose_secret().as_bytes(), &salt, iterations);
            Ok(PasswordHash::new(format!(
                "${ALGORITHM}$i={iterations}${}${}",
                B64.encode(salt),
                B64.encode(digest)
            )))
        })
        .await
    }

    async fn verify(
        &self,
        candidate: &SecretString,
        hash: &PasswordHash,
    ) -> Result<PasswordVerification, HashError> {
        let candidate = candidate.clone();
        let stored = hash.as_str().to_owned();
        let current = self.iterations;
        self.run(move || {
            let parsed = parse(&stored)?;
            let computed = stretch(
                candidate.expose_secret().as_bytes(),
                &parsed.salt,
                parsed.iterations,
            );
            Ok(if constant_time_eq(&computed, &parsed.digest) {
                PasswordVerification::Match {
                    needs_rehash: parsed.iterations != current,
                }
            } else {
                PasswordVerification::Mismatch
            })
        })
        .await
    }
}
