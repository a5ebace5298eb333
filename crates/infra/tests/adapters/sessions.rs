//! `SeaOrmSessionRepository`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use auth_domain::common::StorageError;
use auth_domain::session::{
    RefreshToken, RefreshTokenDraft, RefreshTokenId, Session, SessionId, SessionRepository as _,
};
use auth_domain::user::{User, UserId, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::entities::{refresh_token, session, user};
use auth_infra::sea_orm::{SeaOrmSessionRepository, SeaOrmUserRepository};
use chrono::Duration;
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::fixtures;

/// Two stored users.
async fn two_users(db: &DatabaseConnection) -> (User, User) {
    let users = SeaOrmUserRepository::new(db.clone());
    let ada = fixtures::user("ada@example.com");
    let grace = fixtures::plain_user("grace@example.com");
    users
        .insert(&ada, &crate::fixtures::event())
        .await
        .expect("insert ada");
    users
        .insert(&grace, &crate::fixtures::event())
        .await
        .expect("insert grace");
    (ada, grace)
}

/// Stores `session` with a fresh first token, and returns the token.
async fn insert(sessions: &SeaOrmSessionRepository, session: &Session) -> RefreshToken {
    let token = fixtures::refresh_token(session);
    sessions
        .insert(session, &token, None)
        .await
        .expect("insert the session");
    token
}

/// The session as stored.
async fn stored(sessions: &SeaOrmSessionRepository, id: SessionId) -> Session {
    sessions
        .find_with_user(id)
        .await
        .expect("find the session")
        .expect("the session exists")
        .0
}

/// The token with this hash as stored, if any.
async fn stored_token(
    sessions: &SeaOrmSessionRepository,
    token: &RefreshToken,
) -> Option<RefreshToken> {
    sessions
        .find_refresh_token(&token.hash)
        .await
        .expect("find the refresh token")
        .map(|(token, _, _)| token)
}

/// How many refresh tokens `session` has.
async fn token_rows(db: &DatabaseConnection, session: SessionId) -> u64 {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::SessionId.eq(session.0))
        .count(db)
        .await
        .expect("count refresh tokens")
}

/// How many rows the sessions and refresh-token tables hold.
async fn all_rows(db: &DatabaseConnection) -> (u64, u64) {
    let sessions = session::Entity::find()
        .count(db)
        .await
        .expect("count sessions");
    let tokens = refresh_token::Entity::find()
        .count(db)
        .await
        .expect("count refresh tokens");
    (sessions, tokens)
}

db_test!(insert_then_find_with_user, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let full = fixtures::revoked_session(ada.id);
    let bare = fixtures::bare_session(ada.id);
    insert(&sessions, &full).await;
    insert(&sessions, &bare).await;

    for stored in [full, bare] {
        let (found, found_user) = sessions
            .find_with_user(stored.id)
            .await
            .expect("find")
            .expect("the session exists");
        assert_eq!(found, stored);
        assert_eq!(found_user, ada);
    }
});

db_test!(concurrent_lookups_each_get_their_own_session, |db| {
    const SESSIONS: usize = 24;
    let (ada, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let mut stored = Vec::new();
    for i in 0..SESSIONS {
        let (user, session) = match i % 3 {
            0 => (&ada, fixtures::session(ada.id)),
            1 => (&grace, fixtures::revoked_session(grace.id)),
            _ => (&grace, fixtures::bare_session(grace.id)),
        };
        insert(&sessions, &session).await;
        stored.push(Some((session, user.clone())));
    }
    // Unknown sessions are asked for among them.
    stored.extend((0..4).map(|_| None));

    // Every session is asked for twice at once, with the unknown ones: the
    // lookups share batches, and each gets its own answer.
    let start = Arc::new(Barrier::new(2 * stored.len()));
    let lookups: Vec<_> = stored
        .iter()
        .chain(stored.iter())
        .map(|expected| {
            let (sessions, start, expected) =
                (sessions.clone(), Arc::clone(&start), expected.clone());
            let id = expected
                .as_ref()
                .map_or_else(|| SessionId(Uuid::now_v7()), |(session, _)| session.id);
            tokio::spawn(async move {
                start.wait().await;
                (sessions.find_with_user(id).await, expected)
            })
        })
        .collect();
    for lookup in lookups {
        let (found, expected) = lookup.await.expect("the lookup did not panic");
        assert_eq!(found.expect("no storage error"), expected);
    }

    // A lookup asked after a revocation sees it.
    let (first, _) = stored[0].clone().expect("a stored session");
    assert!(
        sessions
            .revoke(ada.id, first.id, fixtures::now())
            .await
            .expect("revoke")
    );
    let (found, _) = sessions
        .find_with_user(first.id)
        .await
        .expect("find")
        .expect("the session exists");
    assert!(found.revoked_at.is_some(), "the revocation is seen at once");
});

db_test!(an_unknown_session_gives_none, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    insert(&sessions, &fixtures::session(ada.id)).await;

    let found = sessions
        .find_with_user(SessionId(Uuid::now_v7()))
        .await
        .expect("find");
    assert_eq!(found, None);
});

db_test!(insert_then_find_refresh_token, |db| {
    let (ada, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let full = fixtures::revoked_session(ada.id);
    let bare = fixtures::bare_session(grace.id);
    let full_token = insert(&sessions, &full).await;
    let bare_token = insert(&sessions, &bare).await;

    for (token, session, user) in [(full_token, full, ada), (bare_token, bare, grace)] {
        let found = sessions
            .find_refresh_token(&token.hash)
            .await
            .expect("find the refresh token");
        assert_eq!(found, Some((token, session, user)));
    }
});

db_test!(an_unknown_refresh_token_gives_none, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(ada.id);
    insert(&sessions, &session).await;

    let unknown = fixtures::refresh_token(&session);
    let found = sessions
        .find_refresh_token(&unknown.hash)
        .await
        .expect("find");
    assert_eq!(found, None);
});

db_test!(a_session_of_a_missing_user_is_an_error, |db| {
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let orphan = fixtures::session(UserId(Uuid::now_v7()));

    let result = sessions
        .insert(&orphan, &fixtures::refresh_token(&orphan), None)
        .await;
    assert!(
        matches!(result, Err(StorageError::Unexpected(_))),
        "{result:?}"
    );
    assert_eq!(all_rows(&db.db).await, (0, 0));
});

db_test!(a_session_is_stored_with_its_sign_in_event, |db| {
    use auth_domain::audit::{AuditDetails, AuditEventType, AuditFilter, AuditLog as _};
    let (_, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(grace.id);
    let event = auth_domain::audit::AuditEvent {
        kind: AuditEventType::LoginSucceeded,
        user_id: Some(grace.id),
        actor_id: Some(grace.id),
        ip: Some("192.0.2.7".to_owned()),
        user_agent: Some("test/1.0".to_owned()),
        details: AuditDetails::new().with("session_id", session.id.to_string()),
        ..fixtures::event()
    };
    sessions
        .insert(&session, &fixtures::refresh_token(&session), Some(&event))
        .await
        .expect("insert the session with its event");

    assert_eq!(stored(&sessions, session.id).await, session);
    let log = auth_infra::sea_orm::SeaOrmAuditLog::new(db.db.clone());
    let page = log
        .list(
            AuditFilter {
                user_id: Some(grace.id),
                kind: Some(AuditEventType::LoginSucceeded),
            },
            auth_domain::common::PageRequest {
                limit: 10,
                after: None,
            },
        )
        .await
        .expect("list the user's events");
    assert_eq!(page.items, vec![event]);
});

db_test!(a_failed_event_insert_leaves_no_session_behind, |db| {
    let (_, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let first = fixtures::session(grace.id);
    let event = fixtures::event();
    sessions
        .insert(&first, &fixtures::refresh_token(&first), Some(&event))
        .await
        .expect("insert the first session");
    let before = all_rows(&db.db).await;

    // The second session's event reuses the first one's id.
    let second = fixtures::session(grace.id);
    let result = sessions
        .insert(&second, &fixtures::refresh_token(&second), Some(&event))
        .await;
    assert!(
        matches!(result, Err(StorageError::Unexpected(_))),
        "{result:?}"
    );
    assert_eq!(all_rows(&db.db).await, before, "no session, no token");
});

db_test!(a_failed_token_insert_leaves_no_session_behind, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let first = fixtures::session(ada.id);
    let taken = insert(&sessions, &first).await;

    // The session row goes in, then its token hits the unique hash.
    let second = fixtures::session(ada.id);
    let clash = RefreshToken {
        hash: taken.hash.clone(),
        ..fixtures::refresh_token(&second)
    };
    let result = sessions.insert(&second, &clash, None).await;
    assert!(
        matches!(result, Err(StorageError::Unexpected(_))),
        "{result:?}"
    );
    assert_eq!(
        sessions.find_with_user(second.id).await.expect("find"),
        None
    );
    assert_eq!(all_rows(&db.db).await, (1, 1));
});

db_test!(rotate_marks_the_used_token_and_extends_the_session, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(ada.id);
    let used = insert(&sessions, &session).await;

    let now = fixtures::now();
    let replacement = fixtures::replacement(&session, now);
    assert!(
        sessions
            .rotate(used.id, &replacement, now)
            .await
            .expect("rotate")
    );

    let extended = Session {
        last_used_at: now,
        expires_at: replacement.expires_at,
        ..session.clone()
    };
    assert!(extended.expires_at > session.expires_at);
    let rotated = RefreshToken {
        rotated_at: Some(now),
        ..used.clone()
    };
    for (token, expected) in [(&used, rotated), (&replacement, replacement.clone())] {
        let found = sessions
            .find_refresh_token(&token.hash)
            .await
            .expect("find the refresh token");
        assert_eq!(found, Some((expected, extended.clone(), ada.clone())));
    }
    assert_eq!(token_rows(&db.db, session.id).await, 2);
});

db_test!(rotating_a_rotated_token_changes_nothing, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(ada.id);
    let used = insert(&sessions, &session).await;
    let first_at = fixtures::now();
    let first = fixtures::replacement(&session, first_at);
    assert!(
        sessions
            .rotate(used.id, &first, first_at)
            .await
            .expect("rotate")
    );
    let after_first = stored(&sessions, session.id).await;

    let again_at = first_at + Duration::seconds(3);
    let second = fixtures::replacement(&session, again_at);
    assert!(
        !sessions
            .rotate(used.id, &second, again_at)
            .await
            .expect("rotate again")
    );
    assert_eq!(stored_token(&sessions, &second).await, None);
    assert_eq!(
        stored_token(&sessions, &used).await.map(|t| t.rotated_at),
        Some(Some(first_at))
    );
    assert_eq!(stored(&sessions, session.id).await, after_first);
    assert_eq!(token_rows(&db.db, session.id).await, 2);

    // An unknown token cannot be rotated either.
    let unknown = RefreshTokenId(Uuid::now_v7());
    let third = fixtures::replacement(&session, again_at);
    assert!(
        !sessions
            .rotate(unknown, &third, again_at)
            .await
            .expect("rotate an unknown token")
    );
    assert_eq!(token_rows(&db.db, session.id).await, 2);
});

/// How many unrotated (live) refresh tokens `session` has.
async fn live_token_rows(db: &DatabaseConnection, session: SessionId) -> u64 {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::SessionId.eq(session.0))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .count(db)
        .await
        .expect("count live refresh tokens")
}

db_test!(supersede_makes_the_replacement_the_one_live_token, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(ada.id);
    let first = insert(&sessions, &session).await;

    let now = fixtures::now();
    let added = fixtures::replacement(&session, now);
    assert!(sessions.supersede(&added, now).await.expect("supersede"));

    let extended = Session {
        last_used_at: now,
        expires_at: added.expires_at,
        ..session.clone()
    };
    assert_eq!(stored(&sessions, session.id).await, extended);
    // The earlier token is superseded, as if rotated now.
    assert_eq!(
        stored_token(&sessions, &first).await,
        Some(RefreshToken {
            rotated_at: Some(now),
            ..first
        })
    );
    assert_eq!(stored_token(&sessions, &added).await, Some(added));
    assert_eq!(token_rows(&db.db, session.id).await, 2);
    assert_eq!(live_token_rows(&db.db, session.id).await, 1);

    // A session that does not exist takes no token.
    let ghost = fixtures::session(ada.id);
    let orphan = fixtures::replacement(&ghost, now);
    assert!(!sessions.supersede(&orphan, now).await.expect("supersede"));
    assert_eq!(all_rows(&db.db).await, (1, 2));
});

db_test!(the_database_refuses_a_second_live_token, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(ada.id);
    insert(&sessions, &session).await;

    let second = fixtures::replacement(&session, fixtures::now());
    let row = refresh_token::ActiveModel {
        id: sea_orm::ActiveValue::Set(second.id.0),
        session_id: sea_orm::ActiveValue::Set(second.session_id.0),
        token_hash: sea_orm::ActiveValue::Set(second.hash.as_str().to_owned()),
        created_at: sea_orm::ActiveValue::Set(second.created_at),
        expires_at: sea_orm::ActiveValue::Set(second.expires_at),
        rotated_at: sea_orm::ActiveValue::Set(None),
    };
    let refused = refresh_token::Entity::insert(row)
        .exec_without_returning(&db.db)
        .await;
    assert!(refused.is_err(), "two live tokens in one session");
    assert_eq!(live_token_rows(&db.db, session.id).await, 1);
});

db_test!(a_revoked_session_takes_no_new_tokens, |db| {
    let (ada, _) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(ada.id);
    let used = insert(&sessions, &session).await;
    let revoked_at = fixtures::now();
    assert!(
        sessions
            .revoke(ada.id, session.id, revoked_at)
            .await
            .expect("revoke")
    );
    let revoked = stored(&sessions, session.id).await;
    assert_eq!(revoked.revoked_at, Some(revoked_at));

    let now = revoked_at + Duration::seconds(1);
    let replacement = fixtures::replacement(&session, now);
    assert!(
        !sessions
            .rotate(used.id, &replacement, now)
            .await
            .expect("rotate")
    );
    let added = fixtures::replacement(&session, now);
    assert!(!sessions.supersede(&added, now).await.expect("supersede"));

    // Neither wrote anything: the used token is not marked rotated (the
    // rotation was rolled back) and the session was not extended.
    assert_eq!(stored_token(&sessions, &used).await, Some(used));
    assert_eq!(stored_token(&sessions, &replacement).await, None);
    assert_eq!(stored_token(&sessions, &added).await, None);
    assert_eq!(stored(&sessions, session.id).await, revoked);
    assert_eq!(token_rows(&db.db, session.id).await, 1);
});

/// What each racer that won offered, after every racer finished; any
/// storage error fails the test.
async fn winners<T>(
    racers: Vec<tokio::task::JoinHandle<(T, Result<bool, StorageError>)>>,
) -> Vec<T> {
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.expect("the racer did not panic") {
            (offered, Ok(true)) => winners.push(offered),
            (_, Ok(false)) => {}
            (_, Err(error)) => panic!("unexpected error: {error:?}"),
        }
    }
    winners
}

db_test!(
    concurrent_rotations_of_one_token_let_exactly_one_win,
    |db| {
        const RACERS: usize = 20;
        let (ada, _) = two_users(&db.db).await;
        let sessions = SeaOrmSessionRepository::new(db.db.clone());
        let session = fixtures::session(ada.id);
        let used = insert(&sessions, &session).await;

        let now = fixtures::now();
        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (sessions, start) = (sessions.clone(), Arc::clone(&start));
                let replacement = fixtures::replacement(&session, now);
                let used = used.id;
                tokio::spawn(async move {
                    start.wait().await;
                    let rotated = sessions.rotate(used, &replacement, now).await;
                    (replacement, rotated)
                })
            })
            .collect();

        let mut winners = winners(racers).await;
        assert_eq!(winners.len(), 1, "exactly one rotation wins");
        assert_eq!(token_rows(&db.db, session.id).await, 2);
        let winner = winners.remove(0);
        assert_eq!(stored_token(&sessions, &winner).await, Some(winner.clone()));
        assert_eq!(
            stored_token(&sessions, &used).await.map(|t| t.rotated_at),
            Some(Some(now))
        );
        assert_eq!(
            stored(&sessions, session.id).await.expires_at,
            winner.expires_at
        );
    }
);

db_test!(
    concurrent_rotations_and_supersessions_leave_one_live_token,
    |db| {
        const RACERS: usize = 24;
        let (ada, _) = two_users(&db.db).await;
        let sessions = SeaOrmSessionRepository::new(db.db.clone());
        let session = fixtures::session(ada.id);
        let used = insert(&sessions, &session).await;

        let now = fixtures::now();
        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let (sessions, start) = (sessions.clone(), Arc::clone(&start));
                let token = fixtures::replacement(&session, now);
                let used = used.id;
                tokio::spawn(async move {
                    start.wait().await;
                    // Half rotate the presented token, half replay it within
                    // the grace period.
                    let result = if i % 2 == 0 {
                        sessions.rotate(used, &token, now).await
                    } else {
                        sessions.supersede(&token, now).await
                    };
                    (i, result)
                })
            })
            .collect();

        let (mut rotated, mut superseded) = (0, 0);
        for racer in racers {
            match racer.await.expect("the racer did not panic") {
                (i, Ok(true)) if i % 2 == 0 => rotated += 1,
                (_, Ok(true)) => superseded += 1,
                (_, Ok(false)) => {}
                (_, Err(error)) => panic!("unexpected error: {error:?}"),
            }
        }
        assert!(rotated <= 1, "{rotated} rotations of one token won");
        assert_eq!(superseded, RACERS / 2, "every supersession lands");
        assert_eq!(
            token_rows(&db.db, session.id).await,
            u64::try_from(1 + rotated + superseded).expect("small")
        );
        assert_eq!(
            live_token_rows(&db.db, session.id).await,
            1,
            "exactly one chain survives"
        );
    }
);

/// A replacement drawn at `now` for a session not known yet.
/// Runs `futures` on this task, polling them in their order (so what each
/// sends first is sent in that order), and returns their outputs.
async fn in_order<F: Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match Pin::new(future).poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The deadlocks PostgreSQL has counted in this database, once the
/// rotation writers' connections (`authd-rotations`) are closed.
async fn postgres_deadlocks(db: &DatabaseConnection) -> i64 {
    use sea_orm::{ConnectionTrait as _, Statement};
    let one = |sql: &str| Statement::from_string(sea_orm::DatabaseBackend::Postgres, sql);
    for _ in 0..200 {
        let open = db
            .query_one_raw(one("SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'authd-rotations'"))
            .await
            .expect("count the writers' connections")
            .expect("a row");
        if open.try_get::<i64>("", "n").expect("a count") == 0 {
            // An exiting backend's counts land a moment after it leaves
            // `pg_stat_activity`: look a few times.
            let mut deadlocks = 0;
            for _ in 0..10 {
                db.execute_raw(one("SELECT pg_stat_clear_snapshot()"))
                    .await
                    .expect("fresh statistics");
                let counted: i64 = db
                    .query_one_raw(one(
                        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
                    ))
                    .await
                    .expect("read the statistics")
                    .expect("a row")
                    .try_get("", "deadlocks")
                    .expect("a count");
                deadlocks = deadlocks.max(counted);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            return deadlocks;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the rotation writers' connections did not close");
}

fn draft(now: chrono::DateTime<chrono::Utc>) -> RefreshTokenDraft {
    let token = fixtures::replacement(&fixtures::session(UserId(Uuid::now_v7())), now);
    RefreshTokenDraft {
        id: token.id,
        hash: token.hash,
        created_at: token.created_at,
        expires_at: token.expires_at,
    }
}

db_test!(
    rotate_live_rotates_a_live_token_and_returns_its_session,
    |db| {
        let (_, grace) = two_users(&db.db).await;
        let sessions = SeaOrmSessionRepository::new(db.db.clone());
        let session = fixtures::session(grace.id);
        let used = insert(&sessions, &session).await;

        let now = fixtures::now();
        let replacement = draft(now);
        let (found, user) = sessions
            .rotate_live(&used.hash, &replacement, now)
            .await
            .expect("rotate the live token")
            .expect("the token is live");
        let extended = Session {
            last_used_at: now,
            expires_at: replacement.expires_at,
            ..session.clone()
        };
        assert_eq!(found, extended);
        assert_eq!(user, grace);
        assert_eq!(stored(&sessions, session.id).await, extended);
        assert_eq!(
            stored_token(&sessions, &used).await.map(|t| t.rotated_at),
            Some(Some(now))
        );
        let stored_replacement = replacement.in_session(session.id);
        assert_eq!(
            stored_token(&sessions, &stored_replacement).await,
            Some(stored_replacement.clone())
        );

        // The used token is rotated now: presenting it again changes nothing.
        let later = now + Duration::seconds(1);
        let again = draft(later);
        assert_eq!(
            sessions
                .rotate_live(&used.hash, &again, later)
                .await
                .expect("rotate a rotated token"),
            None
        );
        assert_eq!(stored(&sessions, session.id).await, extended);
        assert_eq!(token_rows(&db.db, session.id).await, 2);
        // The replacement is live in turn.
        assert!(
            sessions
                .rotate_live(&stored_replacement.hash, &again, later)
                .await
                .expect("rotate the replacement")
                .is_some()
        );
        assert_eq!(token_rows(&db.db, session.id).await, 3);
        assert_eq!(live_token_rows(&db.db, session.id).await, 1);
    }
);

db_test!(
    rotate_live_refuses_what_is_not_live_and_changes_nothing,
    |db| {
        // `ada` is disabled, `grace` active.
        let (ada, grace) = two_users(&db.db).await;
        let sessions = SeaOrmSessionRepository::new(db.db.clone());
        let now = fixtures::now();

        let of_disabled_user = insert(&sessions, &fixtures::session(ada.id)).await;
        let revoked = fixtures::session(grace.id);
        let in_revoked_session = insert(&sessions, &revoked).await;
        assert!(
            sessions
                .revoke(grace.id, revoked.id, now)
                .await
                .expect("revoke")
        );
        let expired_session = Session {
            expires_at: now,
            ..fixtures::session(grace.id)
        };
        let in_expired_session = RefreshToken {
            expires_at: now + Duration::days(1),
            ..fixtures::refresh_token(&expired_session)
        };
        sessions
            .insert(&expired_session, &in_expired_session, None)
            .await
            .expect("insert");
        let live = fixtures::session(grace.id);
        let expired_token = RefreshToken {
            expires_at: now,
            ..fixtures::refresh_token(&live)
        };
        sessions
            .insert(&live, &expired_token, None)
            .await
            .expect("insert");
        let unknown = fixtures::refresh_token(&live);
        let before = all_rows(&db.db).await;

        for (what, token) in [
            ("a disabled user's", &of_disabled_user),
            ("a revoked session's", &in_revoked_session),
            ("an expired session's", &in_expired_session),
            ("an expired", &expired_token),
            ("an unknown", &unknown),
        ] {
            let replacement = draft(now);
            assert_eq!(
                sessions
                    .rotate_live(&token.hash, &replacement, now)
                    .await
                    .expect("rotate_live"),
                None,
                "{what} token is not live"
            );
            assert_eq!(
                all_rows(&db.db).await,
                before,
                "{what} token: nothing written"
            );
            if token.id != unknown.id {
                assert_eq!(
                    stored_token(&sessions, token).await,
                    Some(token.clone()),
                    "{what} token is not marked rotated"
                );
            }
        }
    }
);

db_test!(
    concurrent_live_rotations_of_one_token_let_exactly_one_win,
    |db| {
        const RACERS: usize = 24;
        let (_, grace) = two_users(&db.db).await;
        let sessions = SeaOrmSessionRepository::new(db.db.clone());
        let session = fixtures::session(grace.id);
        let used = insert(&sessions, &session).await;

        let now = fixtures::now();
        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let (sessions, start) = (sessions.clone(), Arc::clone(&start));
                let (replacement, used) = (draft(now), used.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    // Most take the hot path; some rotate by id, as a
                    // refresh that read the token first does.
                    let won = if i % 4 == 3 {
                        let token = replacement.in_session(used.session_id);
                        sessions.rotate(used.id, &token, now).await
                    } else {
                        sessions
                            .rotate_live(&used.hash, &replacement, now)
                            .await
                            .map(|found| found.is_some())
                    };
                    (replacement, won)
                })
            })
            .collect();

        let mut winners = winners(racers).await;
        assert_eq!(winners.len(), 1, "exactly one rotation wins");
        assert_eq!(token_rows(&db.db, session.id).await, 2);
        assert_eq!(live_token_rows(&db.db, session.id).await, 1);
        let winner = winners.remove(0).in_session(session.id);
        assert_eq!(stored_token(&sessions, &winner).await, Some(winner.clone()));
        assert_eq!(
            stored(&sessions, session.id).await.expires_at,
            winner.expires_at
        );
    }
);

db_test!(concurrent_live_rotations_of_many_sessions_all_land, |db| {
    const SESSIONS: usize = 24;
    let (_, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let mut opened = Vec::new();
    for _ in 0..SESSIONS {
        let session = fixtures::session(grace.id);
        let token = insert(&sessions, &session).await;
        opened.push((session, token));
    }

    let now = fixtures::now();
    let start = Arc::new(Barrier::new(SESSIONS));
    let racers: Vec<_> = opened
        .iter()
        .map(|(session, used)| {
            let (sessions, start) = (sessions.clone(), Arc::clone(&start));
            let (replacement, used, id) = (draft(now), used.clone(), session.id);
            tokio::spawn(async move {
                start.wait().await;
                let found = sessions.rotate_live(&used.hash, &replacement, now).await;
                (id, replacement, found)
            })
        })
        .collect();

    for racer in racers {
        let (id, replacement, found) = racer.await.expect("the racer did not panic");
        let (session, _) = found
            .expect("no storage error")
            .expect("every session's own token is live");
        assert_eq!(session.id, id, "each request gets its own session back");
        let token = replacement.in_session(id);
        assert_eq!(stored_token(&sessions, &token).await, Some(token));
        assert_eq!(live_token_rows(&db.db, id).await, 1);
    }
});

db_test!(
    two_instances_rotating_the_same_tokens_at_once_let_one_win_each,
    |db| {
        const SESSIONS: usize = 24;
        const ROUNDS: i64 = 8;
        let (_, grace) = two_users(&db.db).await;
        // Two repositories, so two writers, as two instances of the
        // server have.
        let instances = [
            SeaOrmSessionRepository::new(db.db.clone()),
            SeaOrmSessionRepository::new(db.db.clone()),
        ];
        let mut live = Vec::new();
        for _ in 0..SESSIONS {
            let session = fixtures::session(grace.id);
            let token = insert(&instances[0], &session).await;
            live.push(token);
        }

        // Every live token is presented to both instances at once, to one
        // in the order of the sessions and to the other in reverse, so
        // their batches hold the same sessions in opposite orders. Each
        // round rotates the winners' replacements.
        for round in 0..ROUNDS {
            let now = fixtures::now() + Duration::seconds(round);
            let start = Arc::new(Barrier::new(2));
            let racers: Vec<_> = instances
                .iter()
                .enumerate()
                .map(|(which, sessions)| {
                    let (sessions, start) = (sessions.clone(), Arc::clone(&start));
                    let mut order = live.clone();
                    if which == 1 {
                        order.reverse();
                    }
                    tokio::spawn(async move {
                        start.wait().await;
                        let presented = order.iter().map(|used| {
                            let (sessions, replacement) = (sessions.clone(), draft(now));
                            let used = used.clone();
                            Box::pin(async move {
                                let found =
                                    sessions.rotate_live(&used.hash, &replacement, now).await;
                                (used, replacement, found)
                            })
                        });
                        in_order(presented.collect()).await
                    })
                })
                .collect();

            let mut won = std::collections::HashMap::new();
            for racer in racers {
                for (used, replacement, found) in racer.await.expect("the racer did not panic") {
                    if found.expect("no storage error").is_some() {
                        let token = replacement.in_session(used.session_id);
                        assert!(
                            won.insert(used.session_id, token).is_none(),
                            "a token is rotated once"
                        );
                    }
                }
            }
            for used in &mut live {
                let winner = won
                    .remove(&used.session_id)
                    .expect("one presentation of each token wins");
                assert_eq!(
                    stored_token(&instances[0], &winner).await,
                    Some(winner.clone())
                );
                assert_eq!(live_token_rows(&db.db, used.session_id).await, 1);
                *used = winner;
            }
        }

        if db.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            // The writers lock their batches' sessions in one order, so
            // they never deadlock (PostgreSQL would break a deadlock by
            // failing a batch, and the retries would hide it). Locked in
            // each batch's own order instead, batches deadlock here in
            // some of the rounds, when their locking overlaps. A backend
            // reports what it counted when it exits: close the writers'
            // connections first.
            drop(instances);
            assert_eq!(postgres_deadlocks(&db.db).await, 0, "no deadlock");
        }
    }
);

db_test!(a_rotation_that_cannot_be_stored_fails_alone, |db| {
    const SESSIONS: usize = 24;
    let (_, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let mut opened = Vec::new();
    for _ in 0..SESSIONS {
        let session = fixtures::session(grace.id);
        let token = insert(&sessions, &session).await;
        opened.push((session, token));
    }
    let now = fixtures::now();
    // The replacement of the first session reuses a stored token's id.
    let taken_id = opened[1].1.id;

    let start = Arc::new(Barrier::new(SESSIONS));
    let racers: Vec<_> = opened
        .iter()
        .enumerate()
        .map(|(i, (session, used))| {
            let (sessions, start) = (sessions.clone(), Arc::clone(&start));
            let mut replacement = draft(now);
            if i == 0 {
                replacement.id = taken_id;
            }
            let (used, id) = (used.clone(), session.id);
            tokio::spawn(async move {
                start.wait().await;
                let found = sessions.rotate_live(&used.hash, &replacement, now).await;
                (i, id, used, found)
            })
        })
        .collect();

    for racer in racers {
        let (i, id, used, found) = racer.await.expect("the racer did not panic");
        if i == 0 {
            assert!(found.is_err(), "a duplicate token id is refused");
            assert_eq!(
                stored_token(&sessions, &used).await,
                Some(used),
                "the failed rotation changed nothing"
            );
            assert_eq!(token_rows(&db.db, id).await, 1);
        } else {
            let (session, _) = found
                .expect("the other rotations are stored")
                .expect("their tokens are live");
            assert_eq!(session.id, id);
            assert_eq!(token_rows(&db.db, id).await, 2);
        }
    }
});

db_test!(only_the_owner_revokes_a_session_and_only_once, |db| {
    let (ada, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let session = fixtures::session(ada.id);
    insert(&sessions, &session).await;
    let now = fixtures::now();

    assert!(
        !sessions
            .revoke(grace.id, session.id, now)
            .await
            .expect("revoke as another user")
    );
    assert_eq!(stored(&sessions, session.id).await, session);

    assert!(
        sessions
            .revoke(ada.id, session.id, now)
            .await
            .expect("revoke as the owner")
    );
    let revoked = Session {
        revoked_at: Some(now),
        ..session.clone()
    };
    assert_eq!(stored(&sessions, session.id).await, revoked);

    let later = now + Duration::seconds(1);
    assert!(
        !sessions
            .revoke(ada.id, session.id, later)
            .await
            .expect("revoke again")
    );
    assert_eq!(stored(&sessions, session.id).await, revoked);
    assert!(
        !sessions
            .revoke(ada.id, SessionId(Uuid::now_v7()), later)
            .await
            .expect("revoke an unknown session")
    );
});

db_test!(revoke_all_counts_and_spares_other_users, |db| {
    let (ada, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let live: Vec<_> = (0..3).map(|_| fixtures::session(ada.id)).collect();
    let already = fixtures::revoked_session(ada.id);
    let graces = fixtures::session(grace.id);
    for session in live.iter().chain([&already, &graces]) {
        insert(&sessions, session).await;
    }

    let now = fixtures::now();
    assert_eq!(
        sessions.revoke_all(ada.id, now).await.expect("revoke all"),
        3
    );
    for session in &live {
        assert_eq!(
            stored(&sessions, session.id).await.revoked_at,
            Some(now),
            "{}",
            session.id
        );
    }
    assert_eq!(stored(&sessions, already.id).await, already);
    assert_eq!(stored(&sessions, graces.id).await, graces);
    assert_eq!(
        sessions
            .revoke_all(ada.id, now + Duration::seconds(1))
            .await
            .expect("revoke all again"),
        0
    );
    assert_eq!(
        sessions.list_live(grace.id, now).await.expect("list"),
        vec![graces]
    );
});

db_test!(list_live_is_newest_first_without_revoked_or_expired, |db| {
    let (ada, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let now = fixtures::now();
    let older = Session {
        created_at: now - Duration::hours(2),
        ..fixtures::session(ada.id)
    };
    let newer = Session {
        created_at: now - Duration::hours(1),
        ..fixtures::bare_session(ada.id)
    };
    let revoked = fixtures::revoked_session(ada.id);
    let expired = Session {
        expires_at: now - Duration::seconds(1),
        ..fixtures::session(ada.id)
    };
    let ends_now = Session {
        expires_at: now,
        ..fixtures::session(ada.id)
    };
    let graces = fixtures::session(grace.id);
    // Inserted oldest first, so that the order is not the insertion order.
    for session in [&older, &revoked, &expired, &ends_now, &graces, &newer] {
        insert(&sessions, session).await;
    }

    let listed = sessions.list_live(ada.id, now).await.expect("list");
    assert_eq!(listed, vec![newer, older]);
    assert_eq!(
        sessions
            .list_live(UserId(Uuid::now_v7()), now)
            .await
            .expect("list for an unknown user"),
        vec![]
    );
});

db_test!(purge_deletes_dead_sessions_and_expired_tokens, |db| {
    let (ada, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let now = fixtures::now();

    // A live session with an expired token, one expiring right now and a
    // live one.
    let live = fixtures::session(ada.id);
    let stale = RefreshToken {
        expires_at: now - Duration::seconds(1),
        rotated_at: Some(now - Duration::days(2)),
        ..fixtures::refresh_token(&live)
    };
    sessions.insert(&live, &stale, None).await.expect("insert");
    let ends_now = RefreshToken {
        expires_at: now,
        ..fixtures::refresh_token(&live)
    };
    let current = fixtures::refresh_token(&live);
    // Added last, `current` leaves the session as it was.
    for token in [&ends_now, &current] {
        assert!(
            sessions
                .supersede(token, live.last_used_at)
                .await
                .expect("add")
        );
    }
    assert_eq!(stored(&sessions, live.id).await, live);

    // An expired session and a revoked one, each with a token that is
    // itself not expired: only the cascade removes those.
    let expired = Session {
        expires_at: now - Duration::seconds(1),
        ..fixtures::session(ada.id)
    };
    let expired_token = RefreshToken {
        expires_at: now + Duration::days(1),
        ..fixtures::refresh_token(&expired)
    };
    sessions
        .insert(&expired, &expired_token, None)
        .await
        .expect("insert");
    let revoked = fixtures::revoked_session(grace.id);
    let revoked_token = insert(&sessions, &revoked).await;
    let graces = fixtures::bare_session(grace.id);
    let graces_token = insert(&sessions, &graces).await;
    assert_eq!(all_rows(&db.db).await, (4, 6));

    assert_eq!(sessions.purge(now).await.expect("purge"), 2);

    assert_eq!(all_rows(&db.db).await, (2, 2));
    assert_eq!(stored(&sessions, live.id).await, live);
    assert_eq!(stored(&sessions, graces.id).await, graces);
    for gone in [expired.id, revoked.id] {
        assert_eq!(sessions.find_with_user(gone).await.expect("find"), None);
    }
    for gone in [&stale, &ends_now, &expired_token, &revoked_token] {
        assert_eq!(stored_token(&sessions, gone).await, None);
    }
    assert_eq!(stored_token(&sessions, &current).await, Some(current));
    assert_eq!(
        stored_token(&sessions, &graces_token).await,
        Some(graces_token)
    );

    assert_eq!(sessions.purge(now).await.expect("purge again"), 0);
    assert_eq!(all_rows(&db.db).await, (2, 2));
});

db_test!(deleting_the_user_deletes_its_sessions_and_tokens, |db| {
    let (ada, grace) = two_users(&db.db).await;
    let sessions = SeaOrmSessionRepository::new(db.db.clone());
    let first = fixtures::session(ada.id);
    let second = fixtures::bare_session(ada.id);
    insert(&sessions, &first).await;
    insert(&sessions, &second).await;
    let now = fixtures::now();
    assert!(
        sessions
            .supersede(&fixtures::replacement(&first, now), now)
            .await
            .expect("supersede")
    );
    let graces = fixtures::session(grace.id);
    let graces_token = insert(&sessions, &graces).await;
    assert_eq!(all_rows(&db.db).await, (3, 4));

    let deleted = user::Entity::delete_by_id(ada.id.0)
        .exec(&db.db)
        .await
        .expect("delete the user");
    assert_eq!(deleted.rows_affected, 1);

    for gone in [first.id, second.id] {
        assert_eq!(sessions.find_with_user(gone).await.expect("find"), None);
    }
    assert_eq!(all_rows(&db.db).await, (1, 1));
    assert_eq!(token_rows(&db.db, graces.id).await, 1);
    assert_eq!(
        sessions
            .find_refresh_token(&graces_token.hash)
            .await
            .expect("find"),
        Some((graces_token, graces, grace))
    );
});
