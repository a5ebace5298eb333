//! `SeaOrmActionTokenRepository`.

use std::sync::Arc;

use auth_domain::common::TokenHash;
use auth_domain::recovery::{ActionToken, ActionTokenRepository as _, TokenPurpose};
use auth_domain::user::{User, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::{SeaOrmActionTokenRepository, SeaOrmUserRepository};
use chrono::Duration;
use sea_orm::DatabaseConnection;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::fixtures;

/// A stored user.
async fn owner(db: &DatabaseConnection) -> User {
    let ada = fixtures::user("ada@example.com");
    SeaOrmUserRepository::new(db.clone())
        .insert(&ada, &crate::fixtures::event())
        .await
        .expect("insert ada");
    ada
}

db_test!(insert_then_find_valid, |db| {
    let ada = owner(&db.db).await;
    let tokens = SeaOrmActionTokenRepository::new(db.db.clone());
    let reset = fixtures::action_token(ada.id, TokenPurpose::ResetPassword);
    let verify = fixtures::action_token(ada.id, TokenPurpose::VerifyEmail);
    tokens.insert(&reset).await.expect("insert reset");
    tokens.insert(&verify).await.expect("insert verify");

    let now = fixtures::now();
    for stored in [&reset, &verify] {
        let found = tokens
            .find_valid(&stored.hash, stored.purpose, now)
            .await
            .expect("find");
        assert_eq!(found.as_ref(), Some(stored));
    }
    // The purpose must match.
    for (stored, wrong) in [
        (&reset, TokenPurpose::VerifyEmail),
        (&verify, TokenPurpose::ResetPassword),
    ] {
        let found = tokens
            .find_valid(&stored.hash, wrong, now)
            .await
            .expect("find");
        assert_eq!(found, None);
    }
    let unknown = tokens
        .find_valid(&TokenHash::of("unknown"), TokenPurpose::ResetPassword, now)
        .await
        .expect("find an unknown token");
    assert_eq!(unknown, None);
});

db_test!(an_expired_token_is_not_valid, |db| {
    let ada = owner(&db.db).await;
    let tokens = SeaOrmActionTokenRepository::new(db.db.clone());
    let token = fixtures::action_token(ada.id, TokenPurpose::ResetPassword);
    tokens.insert(&token).await.expect("insert");

    let last_moment = token.expires_at - Duration::microseconds(1);
    let found = tokens
        .find_valid(&token.hash, token.purpose, last_moment)
        .await
        .expect("find");
    assert_eq!(found.as_ref(), Some(&token));
    for at in [token.expires_at, token.expires_at + Duration::days(1)] {
        let found = tokens
            .find_valid(&token.hash, token.purpose, at)
            .await
            .expect("find");
        assert_eq!(found, None, "at {at}");
        assert!(!tokens.consume(token.id, at).await.expect("consume"));
    }
    // A failed consume did not use it up.
    assert!(
        tokens
            .consume(token.id, last_moment)
            .await
            .expect("consume")
    );
});

db_test!(a_token_is_consumed_once, |db| {
    let ada = owner(&db.db).await;
    let tokens = SeaOrmActionTokenRepository::new(db.db.clone());
    let token = fixtures::action_token(ada.id, TokenPurpose::VerifyEmail);
    let other = fixtures::action_token(ada.id, TokenPurpose::ResetPassword);
    tokens.insert(&token).await.expect("insert");
    tokens.insert(&other).await.expect("insert the other");

    let now = fixtures::now();
    assert!(tokens.consume(token.id, now).await.expect("consume"));
    assert!(
        !tokens
            .consume(token.id, now + Duration::seconds(1))
            .await
            .expect("consume again")
    );
    let found = tokens
        .find_valid(&token.hash, token.purpose, now)
        .await
        .expect("find");
    assert_eq!(found, None);
    // The other token is untouched.
    let found = tokens
        .find_valid(&other.hash, other.purpose, now)
        .await
        .expect("find");
    assert_eq!(found, Some(other));

    assert!(
        !tokens
            .consume(Uuid::now_v7(), now)
            .await
            .expect("consume an unknown token")
    );
});

db_test!(racing_consumes_let_exactly_one_win, |db| {
    const RACERS: usize = 20;
    let ada = owner(&db.db).await;
    let tokens = SeaOrmActionTokenRepository::new(db.db.clone());
    let token = fixtures::action_token(ada.id, TokenPurpose::ResetPassword);
    tokens.insert(&token).await.expect("insert");

    let (id, now) = (token.id, fixtures::now());
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (tokens, start) = (tokens.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                tokens.consume(id, now).await
            })
        })
        .collect();

    let mut won = 0;
    for racer in racers {
        if racer
            .await
            .expect("the racer did not panic")
            .expect("consume")
        {
            won += 1;
        }
    }
    assert_eq!(won, 1);
});

db_test!(purge_deletes_only_expired_tokens, |db| {
    let users = SeaOrmUserRepository::new(db.db.clone());
    let owner = fixtures::plain_user("purge@example.com");
    users
        .insert(&owner, &crate::fixtures::event())
        .await
        .expect("insert the owner");
    let repo = SeaOrmActionTokenRepository::new(db.db.clone());
    let now = fixtures::now();
    let mut expired = fixtures::action_token(owner.id, TokenPurpose::ResetPassword);
    expired.expires_at = now - Duration::hours(2);
    let live = fixtures::action_token(owner.id, TokenPurpose::VerifyEmail);
    repo.insert(&expired).await.expect("insert");
    repo.insert(&live).await.expect("insert");
    assert_eq!(repo.purge(now).await.expect("purge"), 1);
    assert!(
        repo.find_valid(&live.hash, TokenPurpose::VerifyEmail, now)
            .await
            .expect("find")
            .is_some()
    );
    assert_eq!(repo.purge(now).await.expect("purge again"), 0);
});

db_test!(
    a_new_token_invalidates_the_earlier_ones_of_its_purpose,
    |db| {
        let ada = owner(&db.db).await;
        let tokens = SeaOrmActionTokenRepository::new(db.db.clone());
        let first = fixtures::action_token(ada.id, TokenPurpose::ResetPassword);
        let verify = fixtures::action_token(ada.id, TokenPurpose::VerifyEmail);
        let second = fixtures::action_token(ada.id, TokenPurpose::ResetPassword);
        for token in [&first, &verify, &second] {
            tokens.insert(token).await.expect("insert");
        }

        let now = fixtures::now();
        let valid = |token: &ActionToken| {
            let (tokens, token) = (tokens.clone(), token.clone());
            async move {
                tokens
                    .find_valid(&token.hash, token.purpose, now)
                    .await
                    .expect("find")
                    .is_some()
            }
        };
        assert!(!valid(&first).await, "the older reset link died");
        assert!(valid(&second).await, "the newest reset link works");
        assert!(valid(&verify).await, "another purpose is untouched");
        assert!(!tokens.consume(first.id, now).await.expect("consume"));

        // A password change kills every outstanding reset link, and only those.
        assert_eq!(
            tokens
                .invalidate(ada.id, TokenPurpose::ResetPassword, now)
                .await
                .expect("invalidate"),
            1
        );
        assert!(!valid(&second).await);
        assert!(valid(&verify).await);
        assert_eq!(
            tokens
                .invalidate(ada.id, TokenPurpose::ResetPassword, now)
                .await
                .expect("invalidate again"),
            0
        );
    }
);
