//! The Argon2id password hasher.

use std::sync::Arc;

use std::cell::RefCell;

use ::argon2::password_hash::phc::{Output, ParamsString, PasswordHash as PhcHash, Salt};
use ::argon2::{Algorithm, Argon2, Block, Params, Version};
use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use auth_domain::user::{HashError, Password, PasswordHash, PasswordHasher, PasswordVerification};
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};

use crate::blocking::{BlockingPool, PoolError};

/// Argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1), producing PHC
/// strings. Every hash and verification runs on a [`BlockingPool`]; hashes
/// made with other parameters verify and are reported as needing a rehash.
#[derive(Debug, Clone)]
pub struct Argon2PasswordHasher {
    pool: Arc<BlockingPool>,
    params: Params,
}

impl Argon2PasswordHasher {
    /// The OWASP parameters on the given pool.
    #[must_use]
    pub fn new(pool: Arc<BlockingPool>) -> Self {
        Self::with_params(pool, Params::default())
    }

    /// Custom parameters, for tests and for operators who raise the cost.
    #[must_use]
    pub fn with_params(pool: Arc<BlockingPool>, params: Params) -> Self {
        Self { pool, params }
    }

    /// The parameters new hashes are made with.
    #[must_use]
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The pool the work runs on (its queue depth is a metric).
    #[must_use]
    pub fn pool(&self) -> &Arc<BlockingPool> {
        &self.pool
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        match self.pool.run(job).await {
            Ok(result) => result.map_err(HashError::Unexpected),
            Err(PoolError::Busy) => Err(HashError::Busy),
            Err(PoolError::Failed) => Err(HashError::Unexpected(anyhow!("hashing worker failed"))),
        }
    }
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// The Argon2 working memory of this pool thread, allocated once and
    /// reused by every hash it computes: memory stays at m_cost KiB per
    /// worker instead of growing with allocator fragmentation, and no hash
    /// pays for allocating and zeroing 19 MiB.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Computes Argon2 of `password` into `out` with this thread's memory.
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|e| anyhow!("argon2 failed: {e}"))
    })
}

/// A new PHC string for `password` with `params` and a fresh random salt.
fn hash_phc(password: &[u8], params: &Params) -> anyhow::Result<String> {
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = vec![0_u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    compute(&argon2id(params.clone()), params, password, &salt, &mut out)?;
    let phc = PhcHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow!("argon2 parameters: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow!("salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string, with the algorithm,
/// version and parameters it records; tells whether it needs a rehash with
/// `current` parameters.
fn verify_phc(
    password: &[u8],
    stored: &str,
    current: &Params,
) -> anyhow::Result<PasswordVerification> {
    let parsed = PhcHash::new(stored)
        .map_err(|e| anyhow!("stored password hash is not a PHC string: {e}"))?;
    let params = Params::try_from(&parsed).context("stored hash has no Argon2 parameters")?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
        .map_err(|e| anyhow!("stored hash uses an unknown algorithm: {e}"))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| anyhow!("stored hash version: {e}"))?,
        None => Version::default(),
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        anyhow::bail!("stored hash has no salt or output");
    };
    let mut out = vec![0_u8; expected.len()];
    compute(
        &Argon2::new(algorithm, version, params.clone()),
        &params,
        password,
        salt.as_ref(),
        &mut out,
    )?;
    // `Output`'s equality is constant-time.
    let computed = Output::new(&out).map_err(|e| anyhow!("output: {e}"))?;
    if computed != *expected {
        return Ok(PasswordVerification::Mismatch);
    }
    let length = |p: &Params| p.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let needs_rehash = algorithm != Algorithm::Argon2id
        || version != Version::V0x13
        || params.m_cost() != current.m_cost()
        || params.t_cost() != current.t_cost()
        || params.p_cost() != current.p_cost()
        || expected.len() != length(current);
    Ok(PasswordVerification::Match { needs_rehash })
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let secret = password.secret().clone();
        let params = self.params.clone();
        self.run(move || {
            hash_phc(secret.expose_secret().as_bytes(), &params).map(PasswordHash::new)
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
        let current = self.params.clone();
        self.run(move || verify_phc(candidate.expose_secret().as_bytes(), &stored, &current))
            .await
    }
}

#[cfg(test)]
mod tests {
    use auth_domain::user::PasswordPolicy;

    use super::*;

    fn password(raw: &str) -> Password {
        Password::parse(raw.into(), &PasswordPolicy::default(), None).expect("valid password")
    }

    fn hasher(params: Params) -> Argon2PasswordHasher {
        let pool = Arc::new(BlockingPool::new("argon2-test", 2, 16).expect("pool"));
        Argon2PasswordHasher::with_params(pool, params)
    }

    #[tokio::test]
    async fn hashes_with_owasp_parameters_as_phc() {
        let hasher = hasher(Params::default());
        let hash = hasher
            .hash(&password("correct horse battery"))
            .await
            .expect("hash");
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
        let again = hasher
            .hash(&password("correct horse battery"))
            .await
            .expect("hash");
        assert_ne!(hash, again, "every hash has its own salt");
    }

    #[tokio::test]
    async fn round_trip() {
        let hasher = hasher(Params::default());
        let hash = hasher
            .hash(&password("correct horse battery"))
            .await
            .expect("hash");
        assert_eq!(
            hasher
                .verify(&"correct horse battery".into(), &hash)
                .await
                .expect("verify"),
            PasswordVerification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher
                .verify(&"correct horse batterY".into(), &hash)
                .await
                .expect("verify"),
            PasswordVerification::Mismatch
        );
    }

    #[tokio::test]
    async fn flags_hashes_made_with_other_parameters() {
        let weak = Params::new(8 * 1024, 1, 1, None).expect("params");
        let old = hasher(weak)
            .hash(&password("correct horse battery"))
            .await
            .expect("hash");
        assert!(old.as_str().contains("m=8192,t=1,p=1"));
        let current = hasher(Params::default());
        assert_eq!(
            current
                .verify(&"correct horse battery".into(), &old)
                .await
                .expect("verify"),
            PasswordVerification::Match { needs_rehash: true }
        );
        assert_eq!(
            current
                .verify(&"wrong horse battery".into(), &old)
                .await
                .expect("verify"),
            PasswordVerification::Mismatch
        );
    }

    #[tokio::test]
    async fn interoperates_with_the_reference_phc_implementation() {
        use ::argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let ours = hasher(Params::default());
        let hash = ours
            .hash(&password("correct horse battery"))
            .await
            .expect("hash");
        let parsed = PhcHash::new(hash.as_str()).expect("PHC");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok(),
            "the argon2 crate verifies our hashes"
        );
        for (algorithm, needs_rehash) in [(Algorithm::Argon2id, false), (Algorithm::Argon2i, true)]
        {
            let theirs = Argon2::new(algorithm, Version::V0x13, Params::default())
                .hash_password(b"correct horse battery")
                .expect("reference hash")
                .to_string();
            assert_eq!(
                ours.verify(
                    &"correct horse battery".into(),
                    &PasswordHash::new(theirs.clone())
                )
                .await
                .expect("verify"),
                PasswordVerification::Match { needs_rehash },
                "{theirs}"
            );
        }
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_error_not_a_mismatch() {
        let hasher = hasher(Params::default());
        let result = hasher
            .verify(
                &"anything".into(),
                &PasswordHash::new("not-a-phc-string".into()),
            )
            .await;
        assert!(matches!(result, Err(HashError::Unexpected(_))));
    }
}
