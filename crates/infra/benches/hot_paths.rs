//! Micro-benchmarks of what every authenticated request does besides I/O:
//! issuing and verifying an access token (HS256 and EdDSA), verifying one
//! already verified (the verifier cache), and answering the session lookup
//! from the session cache.
//!
//! `cargo bench -p auth-infra --bench hot_paths`

#![allow(clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use auth_domain::auth::{AccessClaims, TokenIssuer as _, TokenVerifier as _};
use auth_domain::common::Clock;
use auth_domain::session::{
    AuthMethods, ClientInfo, MockSessionRepository, Session, SessionId, SessionRepository as _,
};
use auth_domain::user::{Email, PasswordHash, Role, User, UserId};
use auth_infra::jwt::{
    JwtIdentity, JwtKeys, JwtTokenIssuer, JwtTokenVerifier, SigningAlgorithm,
    generate_private_key_pem,
};
use auth_infra::session_cache::{CachedSessions, CachedVerifier, SessionCache};
use auth_infra::system::SystemClock;
use chrono::{TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;

fn identity() -> JwtIdentity {
    JwtIdentity {
        issuer: "auth-module".to_owned(),
        audience: "auth-module".to_owned(),
    }
}

fn claims() -> AccessClaims {
    let now = Utc::now();
    AccessClaims {
        user_id: UserId(Uuid::now_v7()),
        session_id: SessionId(Uuid::now_v7()),
        role: Role::User,
        issued_at: now,
        expires_at: now + TimeDelta::seconds(900),
        token_id: Uuid::now_v7(),
        amr: AuthMethods::Password,
    }
}

fn tokens(c: &mut Criterion) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ed25519 = generate_private_key_pem(SigningAlgorithm::EdDSA).expect("key");
    let keys = [
        (
            "HS256",
            JwtKeys::hs256(b"bench-secret-that-is-at-least-32-bytes-long!").expect("keys"),
        ),
        (
            "EdDSA",
            JwtKeys::asymmetric(SigningAlgorithm::EdDSA, ed25519.as_bytes(), &[]).expect("keys"),
        ),
    ];
    for (name, keys) in keys {
        let keys = Arc::new(keys);
        let issuer = JwtTokenIssuer::new(keys.clone(), identity());
        let verifier = Arc::new(JwtTokenVerifier::new(keys, &identity(), clock.clone()));
        let cached = CachedVerifier::new(
            verifier.clone(),
            clock.clone(),
            Duration::from_secs(3600),
            1000,
        );
        let claims = claims();
        let token = issuer.issue(&claims).expect("issue");
        c.bench_function(&format!("issue {name}"), |b| {
            b.iter(|| issuer.issue(&claims).expect("issue"));
        });
        c.bench_function(&format!("verify {name}"), |b| {
            b.iter(|| verifier.verify(&token).expect("verify"));
        });
        c.bench_function(&format!("verify {name}, already verified"), |b| {
            b.iter(|| cached.verify(&token).expect("verify"));
        });
    }
}

fn cache_hit(c: &mut Criterion) {
    let now = Utc::now();
    let user = User {
        id: UserId(Uuid::now_v7()),
        email: Email::parse("ada@example.com").expect("valid"),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        display_name: None,
        email_verified: true,
        role: Role::User,
        is_active: true,
        mfa_enabled: false,
        created_at: now,
        updated_at: now,
    };
    let session = Session {
        id: SessionId(Uuid::now_v7()),
        user_id: user.id,
        client: ClientInfo::default(),
        created_at: now,
        last_used_at: now,
        expires_at: now + TimeDelta::days(30),
        revoked_at: None,
        amr: AuthMethods::Password,
    };
    let id = session.id;
    let mut inner = MockSessionRepository::new();
    let found = (session, user);
    // Read once; every later lookup is a hit.
    inner
        .expect_find_with_user()
        .times(1)
        .returning(move |_| Ok(Some(found.clone())));
    let cached = CachedSessions::new(inner, SessionCache::local(Duration::from_secs(3600), 1000));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime
        .block_on(cached.find_with_user(id))
        .expect("first read");
    c.bench_function("session cache hit", |b| {
        b.iter(|| runtime.block_on(cached.find_with_user(id)).expect("hit"));
    });
}

criterion_group!(benches, tokens, cache_hit);
criterion_main!(benches);
