//! The rate limiter, the opaque tokens and the demonstration hasher against
//! their ports' contracts.

use std::sync::Arc;

use auth_domain::auth::{AccessClaims, TokenIssuer as _, TokenRejection, TokenVerifier as _};
use auth_domain::common::{Clock, IdGenerator as _, RateLimiter as _, SecretGenerator as _};
use auth_domain::session::SessionId;
use auth_domain::user::{
    HashError, Password, PasswordHash, PasswordHasher as _, PasswordPolicy, PasswordVerification,
    Role, UserId,
};
use chrono::TimeDelta;
use embedded_service::adapters::{
    DemoPasswordHasher, InMemoryRateLimiter, ManualClock, OpaqueTokens, RandomSecretGenerator,
    UuidV7Generator,
};
use secrecy::SecretString;
use uuid::Uuid;

use crate::helpers::start;

#[tokio::test]
async fn the_rate_limiter_counts_in_fixed_windows() {
    let limiter = InMemoryRateLimiter::new();
    let window = TimeDelta::minutes(15);
    for expected in 1..=3 {
        let count = limiter.hit("k", window, start()).await.expect("hit");
        assert_eq!(count.count, expected);
        assert_eq!(count.resets_at, start() + window);
    }
    limiter.release("k").await.expect("release");
    let later = start() + TimeDelta::minutes(5);
    assert_eq!(
        limiter.peek("k", window, later).await.expect("peek").count,
        2
    );
    // The window is fixed: it ends 15 minutes after its first hit.
    let after = start() + window;
    assert_eq!(
        limiter.peek("k", window, after).await.expect("peek").count,
        0
    );
    let fresh = limiter.hit("k", window, after).await.expect("hit");
    assert_eq!((fresh.count, fresh.resets_at), (1, after + window));
    limiter.reset("k").await.expect("reset");
    assert_eq!(
        limiter.peek("k", window, after).await.expect("peek").count,
        0
    );
    // Never below zero.
    limiter.release("k").await.expect("release");
    limiter.hit("old", window, start()).await.expect("hit");
    limiter.hit("new", window, after).await.expect("hit");
    assert_eq!(limiter.purge(after).await.expect("purge"), 1);
}

fn claims(clock: &dyn Clock, ttl: TimeDelta) -> AccessClaims {
    AccessClaims {
        user_id: UserId(Uuid::now_v7()),
        session_id: SessionId(Uuid::now_v7()),
        role: Role::User,
        issued_at: clock.now(),
        expires_at: clock.now() + ttl,
        token_id: Uuid::now_v7(),
        amr: auth_domain::session::AuthMethods::Password,
    }
}

#[test]
fn opaque_tokens_carry_their_claims_until_expiry() {
    let clock = Arc::new(ManualClock::new(start()));
    let tokens = OpaqueTokens::new(Arc::new(RandomSecretGenerator), clock.clone());
    let issued = claims(&*clock, TimeDelta::minutes(15));
    let token = tokens.issue(&issued).expect("issued");
    assert_eq!(tokens.verify(&token), Ok(issued));
    clock.advance(TimeDelta::minutes(15));
    assert_eq!(tokens.verify(&token), Err(TokenRejection::Expired));
}

#[test]
fn opaque_tokens_refuse_what_they_did_not_issue() {
    let clock = Arc::new(ManualClock::new(start()));
    let tokens = OpaqueTokens::new(Arc::new(RandomSecretGenerator), clock);
    assert_eq!(
        tokens.verify(&RandomSecretGenerator.generate()),
        Err(TokenRejection::BadSignature)
    );
    for garbage in ["", "header.payload.signature", &"a".repeat(1000)] {
        assert_eq!(tokens.verify(garbage), Err(TokenRejection::Malformed));
    }
}

#[test]
fn secrets_and_ids_are_as_the_ports_ask() {
    let secret = RandomSecretGenerator.generate();
    assert_eq!(secret.len(), 43, "256 bits in base64url");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_ne!(secret, RandomSecretGenerator.generate());
    let (a, b) = (UuidV7Generator.new_id(), UuidV7Generator.new_id());
    assert_eq!(a.get_version_num(), 7);
    assert!(a < b);
}

fn password(raw: &str) -> Password {
    Password::parse(raw.into(), &PasswordPolicy::default(), None).expect("valid password")
}

#[tokio::test]
async fn the_demo_hasher_salts_verifies_and_asks_for_rehashes() {
    let hasher = DemoPasswordHasher::new(1_000, 4);
    let right = SecretString::from("correct horse battery");
    let hash = hasher
        .hash(&password("correct horse battery"))
        .await
        .expect("hash");
    assert!(hash.as_str().starts_with("$demo-sha256$i=1000$"));
    let again = hasher
        .hash(&password("correct horse battery"))
        .await
        .expect("hash");
    assert_ne!(hash, again, "a fresh salt for every hash");
    assert_eq!(
        hasher.verify(&right, &hash).await.expect("verify"),
        PasswordVerification::Match {
            needs_rehash: false
        }
    );
    assert_eq!(
        hasher
            .verify(&SecretString::from("wrong horse"), &hash)
            .await
            .expect("verify"),
        PasswordVerification::Mismatch
    );
    // Stronger parameters now: the old hash still verifies, and says so.
    let stronger = DemoPasswordHasher::new(2_000, 4);
    assert_eq!(
        stronger.verify(&right, &hash).await.expect("verify"),
        PasswordVerification::Match { needs_rehash: true }
    );
}

#[tokio::test]
async fn a_malformed_stored_hash_is_an_error_not_a_mismatch() {
    let hasher = DemoPasswordHasher::new(1_000, 4);
    for stored in [
        "",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$ZGlnZXN0",
        "$demo-sha256$i=0$c2FsdA$ZGlnZXN0",
        "$demo-sha256$i=10$not base64!$ZGlnZXN0",
    ] {
        let result = hasher
            .verify(
                &SecretString::from("anything"),
                &PasswordHash::new(stored.into()),
            )
            .await;
        assert!(
            matches!(result, Err(HashError::Unexpected(_))),
            "{stored}: {result:?}"
        );
    }
}
