//! `SeaOrmUserRepository`.

use std::sync::Arc;

use auth_domain::common::{Cursor, PageRequest};
use auth_domain::project::ProjectRepository as _;
use auth_domain::recovery::{ActionToken, ActionTokenRepository as _, TokenPurpose};
use auth_domain::session::{SessionId, SessionRepository as _};
use auth_domain::user::{
    AccessChanges, AccessUpdate, CreateUserError, DisplayName, Email, PasswordChange, PasswordHash,
    Role, User, UserId, UserRepository as _,
};
use auth_infra::db_test;
use auth_infra::sea_orm::entities::{
    action_token, audit_event, project, refresh_token, session, user,
};
use auth_infra::sea_orm::{
    SeaOrmActionTokenRepository, SeaOrmProjectRepository, SeaOrmSessionRepository,
    SeaOrmUserRepository,
};
use chrono::Duration;
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::fixtures;

db_test!(insert_then_find_by_id_and_email, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let full = fixtures::user("ada@example.com");
    let plain = fixtures::plain_user("grace@example.com");
    repo.insert(&full, &crate::fixtures::event())
        .await
        .expect("insert the full user");
    repo.insert(&plain, &crate::fixtures::event())
        .await
        .expect("insert the plain user");

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
    repo.insert(
        &fixtures::user("ada@example.com"),
        &crate::fixtures::event(),
    )
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
    repo.insert(&first, &crate::fixtures::event())
        .await
        .expect("insert the first user");

    // Another id, the same (normalised) address.
    let second = fixtures::plain_user("  ADA@Example.com ");
    assert_eq!(second.email, first.email);
    let result = repo.insert(&second, &crate::fixtures::event()).await;
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
                repo.insert(&user, &crate::fixtures::event()).await
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
    repo.insert(&stored, &crate::fixtures::event())
        .await
        .expect("insert");
    repo.insert(&other, &crate::fixtures::event())
        .await
        .expect("insert the other user");

    let new_hash = PasswordHash::new(format!("{}-rehashed", fixtures::PHC));
    let updated_at = fixtures::now() + Duration::microseconds(7_654_321);
    let updated = repo
        .update_password_hash(
            stored.id,
            &new_hash,
            updated_at,
            None,
            PasswordChange::Rehash,
        )
        .await
        .expect("update");
    assert_eq!(updated, Some(0));

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
        .update_password_hash(
            UserId(Uuid::now_v7()),
            &new_hash,
            updated_at,
            None,
            PasswordChange::NewPassword { keep: None },
        )
        .await
        .expect("update of an unknown user");
    assert_eq!(unknown, None);
});

/// Ada with three sessions, a reset link and an e-mail verification link,
/// and Grace with a session and a reset link of her own.
struct Accounts {
    users: SeaOrmUserRepository,
    sessions: SeaOrmSessionRepository,
    links: SeaOrmActionTokenRepository,
    ada: User,
    ada_sessions: Vec<SessionId>,
    ada_reset: ActionToken,
    ada_verify: ActionToken,
    grace: User,
    grace_reset: ActionToken,
}

async fn accounts(db: &sea_orm::DatabaseConnection) -> Accounts {
    let users = SeaOrmUserRepository::new(db.clone());
    let sessions = SeaOrmSessionRepository::new(db.clone());
    let links = SeaOrmActionTokenRepository::new(db.clone());
    let ada = User {
        is_active: true,
        role: Role::User,
        ..fixtures::user("ada@example.com")
    };
    let grace = fixtures::plain_user("grace@example.com");
    let mut ada_sessions = Vec::new();
    for (user, count) in [(&ada, 3), (&grace, 1)] {
        users
            .insert(user, &fixtures::event())
            .await
            .expect("insert");
        for _ in 0..count {
            let session = fixtures::session(user.id);
            sessions
                .insert(&session, &fixtures::refresh_token(&session), None)
                .await
                .expect("insert a session");
            if user.id == ada.id {
                ada_sessions.push(session.id);
            }
        }
    }
    let ada_reset = fixtures::action_token(ada.id, TokenPurpose::ResetPassword);
    let ada_verify = fixtures::action_token(ada.id, TokenPurpose::VerifyEmail);
    let grace_reset = fixtures::action_token(grace.id, TokenPurpose::ResetPassword);
    for link in [&ada_reset, &ada_verify, &grace_reset] {
        links.insert(link).await.expect("insert a link");
    }
    Accounts {
        users,
        sessions,
        links,
        ada,
        ada_sessions,
        ada_reset,
        ada_verify,
        grace,
        grace_reset,
    }
}

impl Accounts {
    async fn live_sessions(&self, user: UserId) -> Vec<SessionId> {
        let mut live: Vec<_> = self
            .sessions
            .list_live(user, fixtures::now())
            .await
            .expect("list")
            .into_iter()
            .map(|session| session.id)
            .collect();
        live.sort_by_key(|id| id.0);
        live
    }

    async fn link_valid(&self, link: &ActionToken) -> bool {
        self.links
            .find_valid(&link.hash, link.purpose, fixtures::now())
            .await
            .expect("find a link")
            .is_some()
    }

    async fn hash_of(&self, user: UserId) -> String {
        self.users
            .find_by_id(user)
            .await
            .expect("find")
            .expect("the user is there")
            .password_hash
            .as_str()
            .to_owned()
    }
}

db_test!(
    a_new_password_ends_sessions_and_reset_links_in_its_own_write,
    |db| {
        let a = accounts(&db.db).await;
        let new_hash = PasswordHash::new(format!("{}-new", fixtures::PHC));
        let at = fixtures::now();
        let kept = a.ada_sessions[1];

        // The user's own change: every other session and every reset link end.
        let revoked = a
            .users
            .update_password_hash(
                a.ada.id,
                &new_hash,
                at,
                Some(fixtures::event()),
                PasswordChange::NewPassword { keep: Some(kept) },
            )
            .await
            .expect("change");
        assert_eq!(revoked, Some(2));
        assert_eq!(a.hash_of(a.ada.id).await, new_hash.as_str());
        assert_eq!(a.live_sessions(a.ada.id).await, vec![kept]);
        assert!(!a.link_valid(&a.ada_reset).await);
        // Other kinds of links and other users are untouched.
        assert!(a.link_valid(&a.ada_verify).await);
        assert_eq!(a.live_sessions(a.grace.id).await.len(), 1);
        assert!(a.link_valid(&a.grace_reset).await);

        // A hash upgrade ends nothing.
        assert_eq!(
            a.users
                .update_password_hash(a.ada.id, &new_hash, at, None, PasswordChange::Rehash)
                .await
                .expect("upgrade"),
            Some(0)
        );
        assert_eq!(a.live_sessions(a.ada.id).await, vec![kept]);

        // A reset or an operator's new password: every session ends.
        assert_eq!(
            a.users
                .update_password_hash(
                    a.ada.id,
                    &new_hash,
                    at,
                    Some(fixtures::event()),
                    PasswordChange::NewPassword { keep: None },
                )
                .await
                .expect("reset"),
            Some(1)
        );
        assert!(a.live_sessions(a.ada.id).await.is_empty());
        assert_eq!(a.live_sessions(a.grace.id).await.len(), 1);
    }
);

/// Makes any change to a session fail from now on, as a lost connection
/// or a full disk would fail it in the middle of a write.
async fn freeze_sessions(db: &sea_orm::DatabaseConnection) {
    use sea_orm::ConnectionTrait as _;

    let freeze = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            "CREATE TRIGGER sessions_frozen BEFORE UPDATE ON sessions \
             BEGIN SELECT RAISE(ABORT, 'sessions are frozen'); END"
        }
        _ => {
            "CREATE FUNCTION sessions_frozen() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'sessions are frozen'; END $$; \
             CREATE TRIGGER sessions_frozen BEFORE UPDATE ON sessions \
             FOR EACH ROW EXECUTE FUNCTION sessions_frozen()"
        }
    };
    db.execute_unprepared(freeze).await.expect("freeze");
}

db_test!(
    a_new_password_is_not_stored_when_its_sessions_cannot_be_ended,
    |db| {
        let a = accounts(&db.db).await;
        let old_hash = a.hash_of(a.ada.id).await;
        let events_before = audit_event::Entity::find()
            .count(&db.db)
            .await
            .expect("count events");
        freeze_sessions(&db.db).await;

        let result = a
            .users
            .update_password_hash(
                a.ada.id,
                &PasswordHash::new(format!("{}-new", fixtures::PHC)),
                fixtures::now(),
                Some(fixtures::event()),
                PasswordChange::NewPassword { keep: None },
            )
            .await;

        assert!(result.is_err(), "{result:?}");
        // Nothing of the change stayed: the old password still works, its
        // sessions and reset link are live, and no event claims otherwise.
        assert_eq!(a.hash_of(a.ada.id).await, old_hash);
        assert_eq!(a.live_sessions(a.ada.id).await.len(), 3);
        assert!(a.link_valid(&a.ada_reset).await);
        assert_eq!(
            audit_event::Entity::find()
                .count(&db.db)
                .await
                .expect("count events"),
            events_before
        );
    }
);

db_test!(disabling_revokes_every_session_in_the_same_write, |db| {
    let a = accounts(&db.db).await;
    let at = fixtures::now();

    // A role change ends nothing.
    assert!(matches!(
        a.users
            .update_access(a.grace.id, change(None, Some(Role::Admin)), at, None)
            .await
            .expect("promote"),
        AccessUpdate::Updated { .. }
    ));
    assert_eq!(a.live_sessions(a.grace.id).await.len(), 1);

    assert!(matches!(
        a.users
            .update_access(
                a.ada.id,
                change(Some(false), None),
                at,
                Some(fixtures::event())
            )
            .await
            .expect("disable"),
        AccessUpdate::Updated { .. }
    ));
    assert!(a.live_sessions(a.ada.id).await.is_empty());
    assert_eq!(a.live_sessions(a.grace.id).await.len(), 1);
    // Enabling the user again brings none of them back.
    assert!(matches!(
        a.users
            .update_access(a.ada.id, change(Some(true), None), at, None)
            .await
            .expect("enable"),
        AccessUpdate::Updated { .. }
    ));
    assert!(a.live_sessions(a.ada.id).await.is_empty());
});

db_test!(
    a_disable_is_not_stored_when_its_sessions_cannot_be_ended,
    |db| {
        let a = accounts(&db.db).await;
        freeze_sessions(&db.db).await;

        let result = a
            .users
            .update_access(
                a.ada.id,
                change(Some(false), None),
                fixtures::now(),
                Some(fixtures::event()),
            )
            .await;

        assert!(result.is_err(), "{result:?}");
        // Not disabled with live sessions that a later enable would bring
        // back: the change did not happen at all.
        let ada = a
            .users
            .find_by_id(a.ada.id)
            .await
            .expect("find")
            .expect("ada is there");
        assert!(ada.is_active);
        assert_eq!(a.live_sessions(a.ada.id).await.len(), 3);
    }
);

/// Every page of users matching `prefix`, `limit` at a time.
async fn list_all(repo: &SeaOrmUserRepository, limit: u64, prefix: Option<&str>) -> Vec<Vec<User>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = repo
            .list(PageRequest { limit, after }, prefix.map(str::to_owned))
            .await
            .expect("list users");
        if let Some(next) = page.next {
            let last = page.items.last().expect("a page with a next has items");
            assert_eq!(
                next,
                Cursor {
                    created_at: last.created_at,
                    id: last.id.0,
                },
                "the cursor is the last item"
            );
        }
        after = page.next;
        pages.push(page.items);
        if after.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

/// The addresses of `users`, in order.
fn emails(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.email.as_str()).collect()
}

db_test!(list_pages_newest_first, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let base = fixtures::now();
    let mut stored = Vec::new();
    for i in 0..25_i64 {
        let mut user = fixtures::plain_user(&format!("user{i:02}@example.com"));
        // 25 users over 13 instants, neither oldest nor newest first:
        // most instants are shared, and the id breaks the tie.
        let age = (i * 7) % 13;
        user.created_at = base - Duration::seconds(age);
        user.updated_at = user.created_at;
        repo.insert(&user, &crate::fixtures::event())
            .await
            .expect("insert");
        stored.push(user);
    }
    stored.sort_by_key(|u| std::cmp::Reverse((u.created_at, u.id.0)));

    let pages = list_all(&repo, 10, None).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![10, 10, 5]);
    let listed: Vec<User> = pages.into_iter().flatten().collect();
    assert_eq!(listed, stored);
});

db_test!(list_filters_by_a_literal_email_prefix, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let addresses = [
        "ab@example.com",
        "abc@example.com",
        "a_b@example.com",
        "a_c@example.com",
        "a%b@example.com",
        "axb@example.com",
        "b@example.com",
        "ba_@example.com",
    ];
    let base = fixtures::now();
    for (age, address) in (0_i64..).zip(addresses) {
        let mut user = fixtures::plain_user(address);
        user.created_at = base - Duration::seconds(age);
        repo.insert(&user, &crate::fixtures::event())
            .await
            .expect("insert");
    }

    let cases: [(&str, &[&str]); 9] = [
        ("a_", &["a_b@example.com", "a_c@example.com"]),
        ("a_b", &["a_b@example.com"]),
        ("a%", &["a%b@example.com"]),
        ("%", &[]),
        ("_", &[]),
        ("ab", &["ab@example.com", "abc@example.com"]),
        (
            "a",
            &[
                "ab@example.com",
                "abc@example.com",
                "a_b@example.com",
                "a_c@example.com",
                "a%b@example.com",
                "axb@example.com",
            ],
        ),
        ("a\\", &[]),
        ("zzz", &[]),
    ];
    for (prefix, expected) in cases {
        let listed: Vec<User> = list_all(&repo, 100, Some(prefix))
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(emails(&listed), expected.to_vec(), "prefix {prefix:?}");
    }

    // Paging keeps the filter.
    let pages = list_all(&repo, 4, Some("a")).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![4, 2]);
    let all = list_all(&repo, 100, None).await.concat();
    assert_eq!(emails(&all), addresses.to_vec());
});

fn change(is_active: Option<bool>, role: Option<Role>) -> AccessChanges {
    AccessChanges { is_active, role }
}

db_test!(update_access_round_trip, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let stored = fixtures::plain_user("grace@example.com");
    let other = fixtures::user("ada@example.com");
    repo.insert(&stored, &crate::fixtures::event())
        .await
        .expect("insert");
    repo.insert(&other, &crate::fixtures::event())
        .await
        .expect("insert the other user");

    let updated_at = fixtures::now() + Duration::microseconds(1_000_001);
    let expected = User {
        is_active: false,
        role: Role::Admin,
        updated_at,
        ..stored.clone()
    };
    assert_eq!(
        repo.update_access(
            stored.id,
            change(Some(false), Some(Role::Admin)),
            updated_at,
            None
        )
        .await
        .expect("update"),
        AccessUpdate::Updated {
            before: Box::new(stored.clone()),
            after: Box::new(expected.clone()),
        }
    );
    assert_eq!(
        repo.find_by_id(stored.id).await.expect("find"),
        Some(expected)
    );

    let later = updated_at + Duration::seconds(1);
    // Only what is sent changes: enabling keeps the role.
    assert!(matches!(
        repo.update_access(stored.id, change(Some(true), None), later, None)
            .await
            .expect("enable"),
        AccessUpdate::Updated { .. }
    ));
    let expected = User {
        role: Role::Admin,
        updated_at: later,
        ..stored.clone()
    };
    assert_eq!(
        repo.find_by_id(expected.id).await.expect("find"),
        Some(expected.clone())
    );
    // Now the only active administrator: demoting is refused, nothing changes.
    assert_eq!(
        repo.update_access(stored.id, change(None, Some(Role::User)), later, None)
            .await
            .expect("demote"),
        AccessUpdate::LastAdmin
    );
    assert_eq!(
        repo.find_by_id(expected.id).await.expect("find"),
        Some(expected)
    );
    assert_eq!(repo.find_by_id(other.id).await.expect("find"), Some(other));

    assert_eq!(
        repo.update_access(
            UserId(Uuid::now_v7()),
            change(Some(false), None),
            later,
            None
        )
        .await
        .expect("update an unknown user"),
        AccessUpdate::NotFound
    );
});

db_test!(the_last_active_admin_is_kept, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let mut admins = Vec::new();
    for (address, role, is_active) in [
        ("admin1@example.com", Role::Admin, true),
        ("admin2@example.com", Role::Admin, true),
        ("retired@example.com", Role::Admin, false),
        ("user@example.com", Role::User, true),
    ] {
        let user = User {
            role,
            is_active,
            ..fixtures::plain_user(address)
        };
        repo.insert(&user, &crate::fixtures::event())
            .await
            .expect("insert");
        if role == Role::Admin && is_active {
            admins.push(user);
        }
    }
    let now = fixtures::now();
    assert!(matches!(
        repo.update_access(admins[0].id, change(Some(false), None), now, None)
            .await
            .expect("disable one of two"),
        AccessUpdate::Updated { .. }
    ));
    // The disabled admin and the inactive one do not count.
    assert_eq!(
        repo.update_access(admins[1].id, change(None, Some(Role::User)), now, None)
            .await
            .expect("demote the last"),
        AccessUpdate::LastAdmin
    );
    let last = repo
        .find_by_id(admins[1].id)
        .await
        .expect("find")
        .expect("kept");
    assert_eq!(
        (last.role, last.is_active),
        (Role::Admin, true),
        "nothing changed"
    );
});

db_test!(concurrent_demotions_keep_one_active_admin, |db| {
    let repo = Arc::new(SeaOrmUserRepository::new(db.db.clone()));
    for round in 0..5 {
        let mut ids = Vec::new();
        for i in 0..2 {
            let user = User {
                role: Role::Admin,
                ..fixtures::plain_user(&format!("admin{round}-{i}@example.com"))
            };
            repo.insert(&user, &crate::fixtures::event())
                .await
                .expect("insert");
            ids.push(user.id);
        }
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (repo, barrier, id) = (repo.clone(), barrier.clone(), *id);
                tokio::spawn(async move {
                    barrier.wait().await;
                    repo.update_access(id, change(None, Some(Role::User)), fixtures::now(), None)
                        .await
                        .expect("demote")
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("joined"));
        }
        let refused = outcomes
            .iter()
            .filter(|o| **o == AccessUpdate::LastAdmin)
            .count();
        let updated = outcomes
            .iter()
            .filter(|o| matches!(o, AccessUpdate::Updated { .. }))
            .count();
        assert_eq!((updated, refused), (1, 1), "round {round}");
        // Demote the survivor too, so the next round starts with exactly its
        // own two administrators.
        // The rule keeps the survivor; demote it behind the repository's
        // back so the next round starts with exactly its own two admins.
        sea_orm::ConnectionTrait::execute_unprepared(
            &db.db,
            "UPDATE users SET role = 'user' WHERE role = 'admin'",
        )
        .await
        .expect("reset");
    }
});

db_test!(update_display_name_sets_and_clears, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let stored = fixtures::plain_user("grace@example.com");
    repo.insert(&stored, &crate::fixtures::event())
        .await
        .expect("insert");

    let name = DisplayName::parse("Grace Hopper").expect("valid display name");
    let set_at = fixtures::now() + Duration::microseconds(1_500_001);
    assert!(
        repo.update_display_name(stored.id, Some(name.clone()), set_at)
            .await
            .expect("set")
    );
    let expected = User {
        display_name: Some(name),
        updated_at: set_at,
        ..stored.clone()
    };
    assert_eq!(
        repo.find_by_id(stored.id).await.expect("find"),
        Some(expected)
    );

    let cleared_at = set_at + Duration::seconds(1);
    assert!(
        repo.update_display_name(stored.id, None, cleared_at)
            .await
            .expect("clear")
    );
    let expected = User {
        display_name: None,
        updated_at: cleared_at,
        ..stored
    };
    assert_eq!(
        repo.find_by_id(expected.id).await.expect("find"),
        Some(expected)
    );

    assert!(
        !repo
            .update_display_name(UserId(Uuid::now_v7()), None, cleared_at)
            .await
            .expect("update an unknown user")
    );
});

db_test!(set_email_verified_marks_the_address, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let stored = fixtures::plain_user("grace@example.com");
    let other = fixtures::plain_user("ada@example.com");
    repo.insert(&stored, &crate::fixtures::event())
        .await
        .expect("insert");
    repo.insert(&other, &crate::fixtures::event())
        .await
        .expect("insert the other user");
    assert!(!stored.email_verified);

    let verified_at = fixtures::now() + Duration::microseconds(2_000_003);
    assert!(
        repo.set_email_verified(stored.id, verified_at, &crate::fixtures::event())
            .await
            .expect("verify")
    );
    let expected = User {
        email_verified: true,
        updated_at: verified_at,
        ..stored.clone()
    };
    assert_eq!(
        repo.find_by_id(stored.id).await.expect("find"),
        Some(expected)
    );
    // Verifying again is harmless.
    assert!(
        repo.set_email_verified(stored.id, verified_at, &crate::fixtures::event())
            .await
            .expect("verify again")
    );
    assert_eq!(repo.find_by_id(other.id).await.expect("find"), Some(other));

    assert!(
        !repo
            .set_email_verified(
                UserId(Uuid::now_v7()),
                verified_at,
                &crate::fixtures::event()
            )
            .await
            .expect("verify an unknown user")
    );
});

db_test!(delete_cascades_to_everything_the_user_owns, |db| {
    let repo = SeaOrmUserRepository::new(db.db.clone());
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let projects = SeaOrmProjectRepository::new(db.db.clone());
    let tokens = SeaOrmActionTokenRepository::new(db.db.clone());
    let ada = fixtures::user("ada@example.com");
    let grace = fixtures::plain_user("grace@example.com");
    let mut session_ids = Vec::new();
    for user in [&ada, &grace] {
        repo.insert(user, &crate::fixtures::event())
            .await
            .expect("insert");
        let session = fixtures::session(user.id);
        sessions
            .insert(&session, &fixtures::refresh_token(&session), None)
            .await
            .expect("insert a session");
        session_ids.push(session.id.0);
        projects
            .insert(&fixtures::project(user.id, "Apollo"))
            .await
            .expect("insert a project");
        for purpose in [TokenPurpose::VerifyEmail, TokenPurpose::ResetPassword] {
            tokens
                .insert(&fixtures::action_token(user.id, purpose))
                .await
                .expect("insert an action token");
        }
    }
    assert_eq!(rows_of(&db.db, ada.id, session_ids[0]).await, (1, 1, 1, 2));

    assert!(
        repo.delete(ada.id, &crate::fixtures::event())
            .await
            .expect("delete")
    );
    assert_eq!(repo.find_by_id(ada.id).await.expect("find"), None);
    assert_eq!(rows_of(&db.db, ada.id, session_ids[0]).await, (0, 0, 0, 0));
    assert_eq!(
        rows_of(&db.db, grace.id, session_ids[1]).await,
        (1, 1, 1, 2)
    );
    assert_eq!(repo.find_by_id(grace.id).await.expect("find"), Some(grace));

    assert!(
        !repo
            .delete(ada.id, &crate::fixtures::event())
            .await
            .expect("delete again")
    );
});

/// How many sessions, refresh tokens of `session_id`, projects and action
/// tokens `user` has.
async fn rows_of(
    db: &sea_orm::DatabaseConnection,
    user: UserId,
    session_id: Uuid,
) -> (u64, u64, u64, u64) {
    let sessions = session::Entity::find()
        .filter(session::Column::UserId.eq(user.0))
        .count(db)
        .await
        .expect("count sessions");
    let refresh_tokens = refresh_token::Entity::find()
        .filter(refresh_token::Column::SessionId.eq(session_id))
        .count(db)
        .await
        .expect("count refresh tokens");
    let projects = project::Entity::find()
        .filter(project::Column::OwnerId.eq(user.0))
        .count(db)
        .await
        .expect("count projects");
    let action_tokens = action_token::Entity::find()
        .filter(action_token::Column::UserId.eq(user.0))
        .count(db)
        .await
        .expect("count action tokens");
    (sessions, refresh_tokens, projects, action_tokens)
}
