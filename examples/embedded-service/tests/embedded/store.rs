//! The `# Errors` and behaviour contracts of `UserRepository`,
//! `SessionRepository` and `ActionTokenRepository`, held by
//! `InMemoryStore`; the same rules auth-infra's SeaORM adapters keep.

use std::sync::Arc;

use auth_domain::auth::{AuthSettings, AuthenticateError};
use auth_domain::common::{PageRequest, StorageError, TokenHash};
use auth_domain::recovery::{ActionToken, ActionTokenRepository, TokenPurpose};
use auth_domain::session::{ClientInfo, RefreshError, RefreshToken, SessionRepository};
use auth_domain::user::{AccessChanges, AccessUpdate, CreateUserError, Role, UserRepository};
use chrono::TimeDelta;
use embedded_service::Settings;
use embedded_service::adapters::InMemoryStore;
use secrecy::ExposeSecret as _;
use uuid::Uuid;

use crate::helpers::{event, refresh_token, register, session, start, user, wired};

/// The stored state of the token with this plaintext: `Some(true)` while
/// live, `Some(false)` once rotated, `None` when unknown.
async fn live(store: &InMemoryStore, plaintext: &str) -> Option<bool> {
    store
        .find_refresh_token(&TokenHash::of(plaintext))
        .await
        .expect("store answers")
        .map(|(token, _, _)| token.rotated_at.is_none())
}

/// A store holding one user with one session whose live token is `t1`.
async fn store_with_session() -> (InMemoryStore, auth_domain::session::Session, RefreshToken) {
    let store = InMemoryStore::new();
    let ada = user("ada@example.com", Role::User, start());
    UserRepository::insert(&store, &ada, &event())
        .await
        .expect("user stored");
    let session = session(ada.id);
    let first = refresh_token(session.id, "t1");
    SessionRepository::insert(&store, &session, &first, None)
        .await
        .expect("session stored");
    (store, session, first)
}

#[tokio::test]
async fn a_duplicate_email_is_refused() {
    let store = InMemoryStore::new();
    UserRepository::insert(
        &store,
        &user("ada@example.com", Role::User, start()),
        &event(),
    )
    .await
    .expect("first insert");
    let again = UserRepository::insert(
        &store,
        &user("ADA@example.com", Role::User, start()),
        &event(),
    )
    .await;
    assert!(matches!(again, Err(CreateUserError::EmailTaken)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_inserts_of_one_email_exactly_one_wins() {
    let store = Arc::new(InMemoryStore::new());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                UserRepository::insert(
                    &*store,
                    &user("ada@example.com", Role::User, start()),
                    &event(),
                )
                .await
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(()) => won += 1,
            Err(CreateUserError::EmailTaken) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn rotate_is_a_compare_and_set() {
    let (store, session, first) = store_with_session().await;
    let now = start() + TimeDelta::minutes(1);
    let second = refresh_token(session.id, "t2");
    assert!(store.rotate(first.id, &second, now).await.expect("rotate"));
    // The same token again: refused, and the loser's replacement not stored.
    let loser = refresh_token(session.id, "t2-loser");
    assert!(!store.rotate(first.id, &loser, now).await.expect("rotate"));
    assert_eq!(live(&store, "t1").await, Some(false));
    assert_eq!(live(&store, "t2").await, Some(true));
    assert_eq!(live(&store, "t2-loser").await, None);
    // The session is extended to the new token's expiry.
    let (extended, _) = store
        .find_with_user(session.id)
        .await
        .expect("store answers")
        .expect("session exists");
    assert_eq!(extended.last_used_at, now);
    assert_eq!(extended.expires_at, second.expires_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_rotations_exactly_one_succeeds() {
    let (store, session, first) = store_with_session().await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let replacement = refresh_token(session.id, &format!("racer-{i}"));
            tokio::spawn(async move { store.rotate(first.id, &replacement, start()).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if task.await.expect("task ran").expect("rotate") {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    let mut live_tokens = 0;
    for i in 0..16 {
        if live(&store, &format!("racer-{i}")).await == Some(true) {
            live_tokens += 1;
        }
    }
    assert_eq!(live_tokens, 1);
}

#[tokio::test]
async fn supersede_leaves_exactly_one_live_token() {
    let (store, session, first) = store_with_session().await;
    let second = refresh_token(session.id, "t2");
    assert!(
        store
            .rotate(first.id, &second, start())
            .await
            .expect("rotate")
    );
    let third = refresh_token(session.id, "t3");
    assert!(store.supersede(&third, start()).await.expect("supersede"));
    assert_eq!(live(&store, "t1").await, Some(false));
    assert_eq!(live(&store, "t2").await, Some(false));
    assert_eq!(live(&store, "t3").await, Some(true));
}

#[tokio::test]
async fn rotating_an_unknown_token_changes_nothing() {
    let (store, session, _first) = store_with_session().await;
    let second = refresh_token(session.id, "t2");
    let unknown = auth_domain::session::RefreshTokenId(Uuid::now_v7());
    assert!(
        !store
            .rotate(unknown, &second, start())
            .await
            .expect("rotate")
    );
    assert_eq!(live(&store, "t1").await, Some(true));
    assert_eq!(live(&store, "t2").await, None);
}

#[tokio::test]
async fn a_revoked_session_takes_no_new_tokens() {
    let (store, session, first) = store_with_session().await;
    assert!(
        store
            .revoke(session.user_id, session.id, start())
            .await
            .expect("revoke")
    );
    let second = refresh_token(session.id, "t2");
    assert!(
        !store
            .rotate(first.id, &second, start())
            .await
            .expect("rotate")
    );
    assert!(!store.supersede(&second, start()).await.expect("supersede"));
    assert_eq!(live(&store, "t1").await, Some(true));
    assert_eq!(live(&store, "t2").await, None);
}

#[tokio::test]
async fn revoke_needs_the_owner_and_happens_once() {
    let (store, session, _) = store_with_session().await;
    let stranger = user("eve@example.com", Role::User, start());
    UserRepository::insert(&store, &stranger, &event())
        .await
        .expect("user stored");
    assert!(
        !store
            .revoke(stranger.id, session.id, start())
            .await
            .expect("revoke")
    );
    assert!(
        store
            .revoke(session.user_id, session.id, start())
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke(session.user_id, session.id, start())
            .await
            .expect("revoke")
    );
    assert!(
        store
            .list_live(session.user_id, start())
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn revoke_all_except_keeps_one_and_counts_the_rest() {
    let (store, kept, _) = store_with_session().await;
    for i in 0..3 {
        let other = session(kept.user_id);
        SessionRepository::insert(
            &store,
            &other,
            &refresh_token(other.id, &format!("o{i}")),
            None,
        )
        .await
        .expect("session stored");
    }
    let now = start() + TimeDelta::minutes(1);
    assert_eq!(
        store
            .revoke_all_except(kept.user_id, kept.id, now)
            .await
            .expect("revoke"),
        3
    );
    let live_sessions = store.list_live(kept.user_id, now).await.expect("list");
    assert_eq!(live_sessions.len(), 1);
    assert_eq!(live_sessions[0].id, kept.id);
    assert_eq!(
        store.revoke_all(kept.user_id, now).await.expect("revoke"),
        1
    );
    // Revoked sessions and their tokens are purged.
    assert_eq!(
        SessionRepository::purge(&store, now).await.expect("purge"),
        4
    );
    assert_eq!(live(&store, "t1").await, None);
}

#[tokio::test]
async fn a_session_for_a_missing_user_is_an_unexpected_error() {
    let store = InMemoryStore::new();
    let orphan = session(auth_domain::user::UserId(Uuid::now_v7()));
    let result =
        SessionRepository::insert(&store, &orphan, &refresh_token(orphan.id, "t"), None).await;
    assert!(matches!(result, Err(StorageError::Unexpected(_))));
}

#[tokio::test]
async fn deleting_a_user_cascades_to_sessions_and_tokens() {
    let (store, session, _) = store_with_session().await;
    assert!(
        UserRepository::delete(&store, session.user_id, &event())
            .await
            .expect("delete")
    );
    assert!(
        !UserRepository::delete(&store, session.user_id, &event())
            .await
            .expect("delete")
    );
    assert!(
        store
            .find_with_user(session.id)
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(live(&store, "t1").await, None);
}

#[tokio::test]
async fn a_second_redemption_with_no_grace_fails_and_revokes_the_session() {
    let settings = Settings {
        auth: AuthSettings {
            refresh_reuse_grace: TimeDelta::zero(),
            ..AuthSettings::default()
        },
        ..Settings::default()
    };
    let (embedded, _clock) = wired(settings).await;
    let (_, tokens) = register(&embedded, "ada@example.com").await;
    let refreshed = embedded
        .sessions
        .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
        .await
        .expect("first redemption succeeds");
    assert!(matches!(
        embedded
            .sessions
            .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
            .await,
        Err(RefreshError::InvalidToken)
    ));
    // Treated as theft: the whole session is revoked, the new pair with it.
    assert!(matches!(
        embedded
            .auth
            .authenticate(refreshed.access_token.expose_secret())
            .await,
        Err(AuthenticateError::SessionInvalid)
    ));
    assert!(matches!(
        embedded
            .sessions
            .refresh(
                refreshed.refresh_token.expose_secret(),
                &ClientInfo::default()
            )
            .await,
        Err(RefreshError::InvalidToken)
    ));
}

#[tokio::test]
async fn a_replay_within_the_grace_period_continues_one_chain() {
    let (embedded, clock) = wired(Settings::default()).await;
    let (_, tokens) = register(&embedded, "ada@example.com").await;
    let first = embedded
        .sessions
        .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
        .await
        .expect("first redemption");
    clock.advance(TimeDelta::seconds(1));
    let replay = embedded
        .sessions
        .refresh(tokens.refresh_token.expose_secret(), &ClientInfo::default())
        .await
        .expect("a replay within the grace period gets a fresh pair");
    // Once the grace period is over, the replay's chain is the one that
    // continues: its token is live ...
    clock.advance(AuthSettings::default().refresh_reuse_grace + TimeDelta::seconds(1));
    embedded
        .sessions
        .refresh(replay.refresh_token.expose_secret(), &ClientInfo::default())
        .await
        .expect("the surviving chain continues");
    // ... while the first redemption's token was superseded by the replay,
    // and presenting it now counts as theft.
    assert!(matches!(
        embedded
            .sessions
            .refresh(first.refresh_token.expose_secret(), &ClientInfo::default())
            .await,
        Err(RefreshError::InvalidToken)
    ));
}

#[tokio::test]
async fn the_last_active_admin_stays() {
    let store = InMemoryStore::new();
    let root = user("root@example.com", Role::Admin, start());
    let deputy = user("deputy@example.com", Role::Admin, start());
    for admin in [&root, &deputy] {
        UserRepository::insert(&store, admin, &event())
            .await
            .expect("user stored");
    }
    let demote = AccessChanges {
        is_active: None,
        role: Some(Role::User),
    };
    let disable = AccessChanges {
        is_active: Some(false),
        role: None,
    };
    let now = start() + TimeDelta::minutes(1);
    let AccessUpdate::Updated { before, after } = store
        .update_access(deputy.id, demote, now, None)
        .await
        .expect("update")
    else {
        panic!("another admin remains");
    };
    assert_eq!((before.role, after.role), (Role::Admin, Role::User));
    assert_eq!(after.updated_at, now);
    for change in [demote, disable] {
        assert_eq!(
            store
                .update_access(root.id, change, now, None)
                .await
                .expect("update"),
            AccessUpdate::LastAdmin
        );
    }
    let unchanged = store
        .find_by_id(root.id)
        .await
        .expect("find")
        .expect("exists");
    assert!(unchanged.is_active && unchanged.role == Role::Admin);
    assert_eq!(
        store
            .update_access(
                auth_domain::user::UserId(Uuid::now_v7()),
                disable,
                now,
                None
            )
            .await
            .expect("update"),
        AccessUpdate::NotFound
    );
}

#[tokio::test]
async fn list_pages_newest_first_by_keyset() {
    let store = InMemoryStore::new();
    let mut users = Vec::new();
    // Three share one instant, so the id has to break the tie.
    for (i, minutes) in [0, 1, 1, 1, 2, 3].into_iter().enumerate() {
        let u = user(
            &format!("user{i}@example.com"),
            Role::User,
            start() + TimeDelta::minutes(minutes),
        );
        UserRepository::insert(&store, &u, &event())
            .await
            .expect("user stored");
        users.push(u);
    }
    users.sort_by_key(|u| std::cmp::Reverse((u.created_at, u.id)));
    let expected: Vec<_> = users.iter().map(|u| u.id).collect();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(PageRequest { limit: 2, after }, None)
            .await
            .expect("list");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    let prefixed = store
        .list(
            PageRequest {
                limit: 10,
                after: None,
            },
            Some("user1".into()),
        )
        .await
        .expect("list");
    assert_eq!(prefixed.items.len(), 1);
    assert_eq!(prefixed.next, None);
}

#[tokio::test]
async fn only_the_newest_mailed_link_works_and_only_once() {
    let (store, session, _) = store_with_session().await;
    let link = |plaintext: &str| ActionToken {
        id: Uuid::now_v7(),
        user_id: session.user_id,
        purpose: TokenPurpose::ResetPassword,
        hash: TokenHash::of(plaintext),
        created_at: start(),
        expires_at: start() + TimeDelta::hours(1),
    };
    let (old, new) = (link("old"), link("new"));
    ActionTokenRepository::insert(&store, &old)
        .await
        .expect("stored");
    ActionTokenRepository::insert(&store, &new)
        .await
        .expect("stored");
    let find = async |plaintext: &str| {
        store
            .find_valid(
                &TokenHash::of(plaintext),
                TokenPurpose::ResetPassword,
                start(),
            )
            .await
    };
    assert!(find("old").await.expect("find").is_none());
    assert_eq!(find("new").await.expect("find"), Some(new.clone()));
    assert!(store.consume(new.id, start()).await.expect("consume"));
    assert!(!store.consume(new.id, start()).await.expect("consume"));
    assert!(find("new").await.expect("find").is_none());
}
