use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The source of the current time, injected so that expiry can be tested
/// without sleeping.
///
/// # Errors
/// None: reading the clock cannot fail.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// Generates identifiers for new entities (UUIDv7 in production, so that ids
/// sort by creation time).
///
/// # Errors
/// None: generating an id cannot fail.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh, unique id.
    fn new_id(&self) -> Uuid;
}

/// Generates unguessable, URL-safe secrets (refresh tokens, e-mail tokens).
///
/// Implementations must draw at least 256 bits from a cryptographically secure
/// generator and encode them with the URL-safe alphabet `[A-Za-z0-9_-]`.
///
/// # Errors
/// None: an implementation that cannot reach its entropy source panics at
/// start-up rather than hand out weak secrets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    /// A fresh secret.
    fn generate(&self) -> String;
}

/// The SHA-256 digest of an opaque token, the only form in which tokens are
/// stored. Opaque tokens carry 256 bits of entropy, so a fast hash is enough:
/// there is nothing to brute-force.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a token as presented by a client.
    ///
    /// ```
    /// use auth_domain::common::TokenHash;
    /// assert_eq!(TokenHash::of("abc"), TokenHash::of("abc"));
    /// assert_ne!(TokenHash::of("abc").as_str(), "abc");
    /// ```
    #[must_use]
    pub fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
    }

    /// Rebuilds a hash read back from storage.
    #[must_use]
    pub fn from_stored(hash: String) -> Self {
        Self(hash)
    }

    /// The encoded digest.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
