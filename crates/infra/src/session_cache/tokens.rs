//! Access tokens already verified, kept in memory beside the sessions.
//!
//! Verifying an HS256 token costs more than everything else a cached
//! `/users/me` does: three base64 decodes, three JSON parses (header,
//! claims for validation, claims) and an HMAC whose key is set up again
//! on every call. A client presents the same token on every request for
//! its lifetime, so [`CachedVerifier`] keeps the claims of tokens it has
//! verified, keyed by the token itself, for at most the session cache's
//! `max_age`.
//!
//! This cannot weaken anything the verifier checks:
//! - only a token the inner verifier accepted is stored, under its exact
//!   bytes, and a signature over the same bytes cannot stop being valid
//!   (the keys are fixed for the life of the process);
//! - the time checks are made again on every hit with the injected clock,
//!   exactly as the verifier makes them: an expired token is refused the
//!   moment it expires, whether cached or not;
//! - keys are compared in constant time, so the cache does not tell a
//!   forger how much of a cached token it has guessed;
//! - revocation is untouched: it is checked on the session, after this.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use auth_domain::auth::{AccessClaims, TokenRejection, TokenVerifier};
use auth_domain::common::Clock;
use chrono::TimeDelta;
use moka::sync::Cache;

use crate::jwt::NOT_BEFORE_LEEWAY_SECS;

/// A presented token as a cache key, compared in constant time.
#[derive(Clone)]
struct Presented(Arc<str>);

impl PartialEq for Presented {
    fn eq(&self, other: &Self) -> bool {
        same_bytes(self.0.as_bytes(), other.0.as_bytes())
    }
}

/// Whether `a` and `b` are equal, in a time that depends on their length
/// only: every word is compared, the differences are collected without a
/// branch, and the optimiser cannot see the collected value before the end.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut difference = 0_u64;
    for (x, y) in a_words.iter().zip(b_words) {
        difference |= u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y);
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        difference |= u64::from(x ^ y);
    }
    std::hint::black_box(difference) == 0
}

impl Eq for Presented {}

impl Hash for Presented {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// A [`TokenVerifier`] that remembers what `inner` accepted. See the
/// [module](self) documentation.
pub struct CachedVerifier {
    inner: Arc<dyn TokenVerifier>,
    clock: Arc<dyn Clock>,
    verified: Cache<Presented, AccessClaims>,
}

impl std::fmt::Debug for CachedVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedVerifier")
            .field("entries", &self.verified.entry_count())
            .finish_non_exhaustive()
    }
}

impl CachedVerifier {
    /// Keeps at most `capacity` tokens accepted by `inner`, each for at
    /// most `max_age`; the time checks use `clock`, as `inner`'s must.
    #[must_use]
    pub fn new(
        inner: Arc<dyn TokenVerifier>,
        clock: Arc<dyn Clock>,
        max_age: Duration,
        capacity: u64,
    ) -> Self {
        Self {
            inner,
            clock,
            verified: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(max_age)
                .build(),
        }
    }
}

impl TokenVerifier for CachedVerifier {
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let key = Presented(Arc::from(token));
        if let Some(claims) = self.verified.get(&key) {
            let now = self.clock.now();
            if now < claims.expires_at
                && claims.issued_at <= now + TimeDelta::seconds(NOT_BEFORE_LEEWAY_SECS)
            {
                return Ok(claims);
            }
            // Out of its time window: the verifier says why.
            self.verified.invalidate(&key);
        }
        let claims = self.inner.verify(token)?;
        self.verified.insert(key, claims.clone());
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use auth_domain::session::{AuthMethods, SessionId};
    use auth_domain::user::{Role, UserId};
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;

    /// Accepts `good` (with `claims`) and nothing else; counts its calls.
    struct Counting {
        good: &'static str,
        claims: AccessClaims,
        calls: AtomicUsize,
    }

    impl TokenVerifier for Counting {
        fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if token == self.good {
                Ok(self.claims.clone())
            } else {
                Err(TokenRejection::BadSignature)
            }
        }
    }

    struct Manual(Mutex<DateTime<Utc>>);

    impl Clock for Manual {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().expect("clock")
        }
    }

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
    }

    fn setup() -> (CachedVerifier, Arc<Counting>, Arc<Manual>) {
        let inner = Arc::new(Counting {
            good: "header.claims.signature",
            claims: AccessClaims {
                user_id: UserId(Uuid::now_v7()),
                session_id: SessionId(Uuid::now_v7()),
                role: Role::User,
                issued_at: start(),
                expires_at: start() + TimeDelta::seconds(900),
                token_id: Uuid::now_v7(),
                amr: AuthMethods::Password,
            },
            calls: AtomicUsize::new(0),
        });
        let clock = Arc::new(Manual(Mutex::new(start())));
        let cached =
            CachedVerifier::new(inner.clone(), clock.clone(), Duration::from_secs(60), 1_000);
        (cached, inner, clock)
    }

    #[test]
    fn an_accepted_token_is_verified_once_and_answered_from_memory() {
        let (cached, inner, _) = setup();
        for _ in 0..5 {
            assert_eq!(
                cached.verify("header.claims.signature").expect("accepted"),
                inner.claims
            );
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_refused_token_is_never_remembered_nor_is_a_near_miss_accepted() {
        let (cached, inner, _) = setup();
        cached.verify("header.claims.signature").expect("accepted");
        for forged in [
            "header.claims.signaturf",
            "header.claims.signatur",
            "header.claims.signature ",
            "Header.claims.signature",
        ] {
            assert!(matches!(
                cached.verify(forged),
                Err(TokenRejection::BadSignature)
            ));
            assert!(matches!(
                cached.verify(forged),
                Err(TokenRejection::BadSignature)
            ));
        }
        // Every refusal went to the verifier: 1 acceptance + 8 refusals.
        assert_eq!(inner.calls.load(Ordering::SeqCst), 9);
    }

    #[test]
    fn a_cached_token_is_refused_the_moment_it_expires() {
        let (cached, inner, clock) = setup();
        cached.verify("header.claims.signature").expect("accepted");
        *clock.0.lock().expect("clock") = start() + TimeDelta::seconds(899);
        assert!(cached.verify("header.claims.signature").is_ok());
        *clock.0.lock().expect("clock") = start() + TimeDelta::seconds(900);
        // The stub does not check time; the cache must not answer for it.
        let calls = inner.calls.load(Ordering::SeqCst);
        let _ = cached.verify("header.claims.signature");
        assert_eq!(inner.calls.load(Ordering::SeqCst), calls + 1);
    }

    #[test]
    fn a_cached_token_is_refused_when_the_clock_is_before_its_issue() {
        let (cached, inner, clock) = setup();
        cached.verify("header.claims.signature").expect("accepted");
        *clock.0.lock().expect("clock") = start() - TimeDelta::seconds(NOT_BEFORE_LEEWAY_SECS + 1);
        let calls = inner.calls.load(Ordering::SeqCst);
        let _ = cached.verify("header.claims.signature");
        assert_eq!(inner.calls.load(Ordering::SeqCst), calls + 1);
    }

    #[test]
    fn keys_compare_by_every_byte() {
        let key = |s: &str| Presented(Arc::from(s));
        assert!(key("abc") == key("abc"));
        assert!(key("abc") != key("abd"));
        assert!(key("abc") != key("ab"));
        assert!(key("") == key(""));
        // A difference in any byte of the whole words or of the tail.
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert!(key(token) == key(token));
        for at in 0..token.len() {
            let mut forged = token.as_bytes().to_vec();
            forged[at] ^= 0x01;
            let forged = String::from_utf8(forged).expect("ASCII");
            assert!(key(token) != key(&forged), "byte {at}");
        }
    }
}
