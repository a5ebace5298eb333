//! `SeaOrmUserRepository`.

use std::sync::Arc;

use auth_domain::user::{CreateUserError, Email, PasswordHash, UserId, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::SeaOrmUserRepository;
use auth_infra::sea_orm::entities::user;
use chrono::Duration;
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::fixtures;

db_test!(insert_then_find_by_id_and_email, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let full = fixtures::user("ada@example.com");
    let plain = fixtures::plain_user("grace@example.com");
    repo.insert(&full).await.expect("insert the full user");
    repo.insert(&plain).await.expect("insert the plain user");

    for stored in [&full, &plain] {
        let by_id = repo.find_by_id(stored.id).await.expect("find by id");
        assert_eq!(by_id.as_ref(), Some(stored));
        let by_email = repo
            .find_by_email(&stored.email)
            .await
            .expect("find by e-mail");
        assert_eq!(by_email.as_ref(), Some(stored));
    }
});

db_test!(finding_an_unknown_user_gives_none, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    repo.insert(&fixtures::user("ada@example.com"))
        .await
        .expect("insert");

    let unknown_id = UserId(Uuid::now_v7());
    assert_eq!(repo.find_by_id(unknown_id).await.expect("find by id"), None);
    let unknown_email = Email::parse("nobody@example.com").expect("valid e-mail address");
    assert_eq!(
        repo.find_by_email(&unknown_email)
            .await
            .expect("find by e-mail"),
        None
    );
});

db_test!(a_taken_email_is_refused, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let first = fixtures::user("ada@example.com");
    repo.insert(&first).await.expect("insert the first user");

    // Another id, the same (normalised) address.
    let second = fixtures::plain_user("  ADA@Example.com ");
    assert_eq!(second.email, first.email);
    let result = repo.insert(&second).await;
    assert!(
        matches!(result, Err(CreateUserError::EmailTaken)),
        "{result:?}"
    );
    assert_eq!(repo.find_by_id(second.id).await.expect("find by id"), None);
    assert_eq!(
        repo.find_by_email(&first.email).await.expect("find"),
        Some(first)
    );
});

db_test!(racing_inserts_of_one_email_let_exactly_one_win, |db| {
    const RACERS: usize = 20;
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (repo, start) = (repo.clone(), Arc::clone(&start));
            let user = fixtures::plain_user("race@example.com");
            tokio::spawn(async move {
                start.wait().await;
                repo.insert(&user).await
            })
        })
        .collect();

    let (mut won, mut taken) = (0, 0);
    for racer in racers {
        match racer.await.expect("the racer did not panic") {
            Ok(()) => won += 1,
            Err(CreateUserError::EmailTaken) => taken += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((won, taken), (1, RACERS - 1));

    let rows = user::Entity::find()
        .filter(user::Column::Email.eq("race@example.com"))
        .count(&db.db)
        .await
        .expect("count users");
    assert_eq!(rows, 1);
});

db_test!(updating_the_password_hash, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let stored = fixtures::user("ada@example.com");
    let other = fixtures::plain_user("grace@example.com");
    repo.insert(&stored).await.expect("insert");
    repo.insert(&other).await.expect("insert the other user");

    let new_hash = PasswordHash::new(format!("{}-rehashed", fixtures::PHC));
    let updated_at = fixtures::now() + Duration::microseconds(7_654_321);
    let updated = repo
        .update_password_hash(stored.id, &new_hash, updated_at)
        .await
        .expect("update");
    assert!(updated);

    let read = repo
        .find_by_id(stored.id)
        .await
        .expect("find by id")
        .expect("the user is still there");
    assert_eq!(read.password_hash.as_str(), new_hash.as_str());
    assert_eq!(read.updated_at, updated_at);
    // Nothing else changed, on this user or on the other one.
    let mut expected = stored.clone();
    expected.password_hash = new_hash.clone();
    expected.updated_at = updated_at;
    assert_eq!(read, expected);
    assert_eq!(
        repo.find_by_id(other.id)
            .await
            .expect("find the other user"),
        Some(other)
    );

    let unknown = repo
        .update_password_hash(UserId(Uuid::now_v7()), &new_hash, updated_at)
        .await
        .expect("update of an unknown user");
    assert!(!unknown);
});
