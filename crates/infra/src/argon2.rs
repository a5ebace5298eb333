//! The Argon2id password hasher.

use std::sync::Arc;

use ::argon2::password_hash::phc::PasswordHash as PhcHash;
use ::argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use ::argon2::{Algorithm, Argon2, Params, Version};
use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use auth_domain::user::{HashError, Password, PasswordHash, PasswordHasher, PasswordVerification};
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

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let secret = password.secret().clone();
        let params = self.params.clone();
        self.run(move || {
            let hash = argon2id(params)
                .hash_password(secret.expose_secret().as_bytes())
                .map_err(|e| anyhow!("argon2 hashing failed: {e}"))?;
            Ok(PasswordHash::new(hash.to_string()))
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
        self.run(move || {
            let parsed = PhcHash::new(&stored)
                .map_err(|e| anyhow!("stored password hash is not a PHC string: {e}"))?;
            let stored_params =
                Params::try_from(&parsed).context("stored hash has no Argon2 parameters")?;
            let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
                .map_err(|e| anyhow!("stored hash uses an unknown algorithm: {e}"))?;
            // Verifying with the stored algorithm and parameters; the verifier
            // reads them from the PHC string itself.
            let matches = argon2id(stored_params.clone())
                .verify_password(candidate.expose_secret().as_bytes(), &parsed)
                .is_ok();
            if !matches {
                return Ok(PasswordVerification::Mismatch);
            }
            let version_current = parsed.version.is_none_or(|v| v == Version::V0x13 as u32);
            // Parameters read from a PHC string always carry the output length,
            // `Params::default()` leaves it unset: compare the effective lengths.
            let output_len =
                |params: &Params| params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
            let needs_rehash = algorithm != Algorithm::Argon2id
                || !version_current
                || stored_params.m_cost() != current.m_cost()
                || stored_params.t_cost() != current.t_cost()
                || stored_params.p_cost() != current.p_cost()
                || output_len(&stored_params) != output_len(&current);
            Ok(PasswordVerification::Match { needs_rehash })
        })
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
