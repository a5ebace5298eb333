//! `SeaOrmSessionRepository`.

use auth_domain::common::StorageError;
use auth_domain::session::{SessionId, SessionRepository as _};
use auth_domain::user::{UserId, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::entities::{session, user};
use auth_infra::sea_orm::{SeaOrmSessionRepository, SeaOrmUserRepository};
use sea_orm::{EntityTrait as _, PaginatorTrait as _};
use uuid::Uuid;

use crate::fixtures;

db_test!(insert_then_find_with_user, |db| {
    let users = SeaOrmUserRepository::new(db.db.clone());
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let owner = fixtures::user("ada@example.com");
    users.insert(&owner).await.expect("insert the user");
    let full = fixtures::session(owner.id);
    let bare = fixtures::bare_session(owner.id);
    sessions
        .insert(&full)
        .await
        .expect("insert the full session");
    sessions
        .insert(&bare)
        .await
        .expect("insert the bare session");

    for stored in [full, bare] {
        let (found, found_user) = sessions
            .find_with_user(stored.id)
            .await
            .expect("find")
            .expect("the session exists");
        assert_eq!(found, stored);
        assert_eq!(found_user, owner);
    }
});

db_test!(an_unknown_session_gives_none, |db| {
    let users = SeaOrmUserRepository::new(db.db.clone());
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let owner = fixtures::user("ada@example.com");
    users.insert(&owner).await.expect("insert the user");
    sessions
        .insert(&fixtures::session(owner.id))
        .await
        .expect("insert a session");

    let found = sessions
        .find_with_user(SessionId(Uuid::now_v7()))
        .await
        .expect("find");
    assert_eq!(found, None);
});

db_test!(deleting_the_user_deletes_its_sessions, |db| {
    let users = SeaOrmUserRepository::new(db.db.clone());
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let owner = fixtures::user("ada@example.com");
    users.insert(&owner).await.expect("insert the user");
    let first = fixtures::session(owner.id);
    let second = fixtures::bare_session(owner.id);
    sessions.insert(&first).await.expect("insert a session");
    sessions.insert(&second).await.expect("insert a session");

    let deleted = user::Entity::delete_by_id(owner.id.0)
        .exec(&db.db)
        .await
        .expect("delete the user");
    assert_eq!(deleted.rows_affected, 1);

    for gone in [first.id, second.id] {
        assert_eq!(sessions.find_with_user(gone).await.expect("find"), None);
    }
    let rows = session::Entity::find()
        .count(&db.db)
        .await
        .expect("count sessions");
    assert_eq!(rows, 0);
});

db_test!(a_session_of_a_missing_user_is_an_error, |db| {
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let orphan = fixtures::session(UserId(Uuid::now_v7()));

    let result = sessions.insert(&orphan).await;
    assert!(
        matches!(result, Err(StorageError::Unexpected(_))),
        "{result:?}"
    );
    let rows = session::Entity::find()
        .count(&db.db)
        .await
        .expect("count sessions");
    assert_eq!(rows, 0);
});
