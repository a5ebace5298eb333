//! Opaque access tokens: random strings that mean something only to the
//! process that issued them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use auth_domain::auth::{
    AccessClaims, IssueTokenError, TokenIssuer, TokenRejection, TokenVerifier,
};
use auth_domain::common::{Clock, SecretGenerator, TokenHash};

/// 256 bits in base64url are 43 characters; anything much longer is not
/// one of ours and is refused before it is hashed.
const MIN_TOKEN_LENGTH: usize = 43;
const MAX_TOKEN_LENGTH: usize = 128;

/// [`TokenIssuer`] and [`TokenVerifier`] in one: each access token is a
/// fresh secret from the [`SecretGenerator`], and its claims are kept in
/// memory under the token's SHA-256 (never the token itself).
///
/// The trade-off against auth-infra's JWTs: nothing to sign and no keys to
/// rotate, but only this process can verify its tokens, and they die with
/// it. Access tokens are short-lived and the session behind each one is
/// checked on every request, so nothing here needs revoking: expired
/// entries are dropped as new tokens are issued.
#[derive(Clone)]
pub struct OpaqueTokens {
    claims: Arc<Mutex<HashMap<TokenHash, AccessClaims>>>,
    secrets: Arc<dyn SecretGenerator>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OpaqueTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let live = self.table().len();
        f.debug_struct("OpaqueTokens")
            .field("live", &live)
            .finish_non_exhaustive()
    }
}

impl OpaqueTokens {
    /// Tokens drawn from `secrets`, checked for expiry against `clock`.
    #[must_use]
    pub fn new(secrets: Arc<dyn SecretGenerator>, clock: Arc<dyn Clock>) -> Self {
        Self {
            claims: Arc::default(),
            secrets,
            clock,
        }
    }

    /// The table, also after a panic elsewhere: every change to it is a
    /// single map operation, so it is never left half-written.
    fn table(&self) -> MutexGuard<'_, HashMap<TokenHash, AccessClaims>> {
        self.claims.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenIssuer for OpaqueTokens {
    fn issue(&self, claims: &AccessClaims) -> Result<String, IssueTokenError> {
        let token = self.secrets.generate();
        let now = self.clock.now();
        let mut issued = self.table();
        issued.retain(|_, c| now < c.expires_at);
        issued.insert(TokenHash::of(&token), claims.clone());
        Ok(token)
    }
}

impl TokenVerifier for OpaqueTokens {
    /// An unknown token is refused as [`TokenRejection::BadSignature`]: like
    /// a JWT with a forged signature, it is one this process never issued.
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let well_formed = (MIN_TOKEN_LENGTH..=MAX_TOKEN_LENGTH).contains(&token.len())
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(TokenRejection::Malformed);
        }
        let claims = self
            .table()
            .get(&TokenHash::of(token))
            .cloned()
            .ok_or(TokenRejection::BadSignature)?;
        let now = self.clock.now();
        if now >= claims.expires_at {
            return Err(TokenRejection::Expired);
        }
        if claims.issued_at > now {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(claims)
    }
}
