//! Unit tests of log-out, listing, revoking and purging sessions, on the
//! fixtures of `tests.rs`.

use chrono::TimeDelta;
use mockall::predicate::eq;
use uuid::Uuid;

use super::SessionError;
use crate::testing::*;

// -------------------------------------------------------------- sessions

#[tokio::test]
async fn logout_revokes_the_callers_session() {
    let mut mocks = Mocks::new();
    mocks.now = now() + TimeDelta::minutes(3);
    mocks
        .sessions
        .expect_revoke()
        .with(
            eq(USER_ID),
            eq(SESSION_ID),
            eq(now() + TimeDelta::minutes(3)),
        )
        .times(1)
        .return_once(|_, _, _| Ok(true));
    let service = mocks.sessions_service();

    service
        .logout(USER_ID, SESSION_ID, &client())
        .await
        .expect("logout succeeds");
}

#[tokio::test]
async fn logout_of_an_already_revoked_session_succeeds() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke()
        .with(eq(USER_ID), eq(SESSION_ID), eq(now()))
        .times(1)
        .return_once(|_, _, _| Ok(false));
    let service = mocks.sessions_service();

    service
        .logout(USER_ID, SESSION_ID, &client())
        .await
        .expect("logging out twice is not an error");
}

#[tokio::test]
async fn logout_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    let service = mocks.sessions_service();

    let error = service
        .logout(USER_ID, SESSION_ID, &client())
        .await
        .expect_err("storage is down");

    assert!(matches!(error, SessionError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn revoke_session_revokes_a_live_session_of_the_user() {
    let mut mocks = Mocks::new();
    mocks.expect_find_session(Some((session(SESSION_ID, USER_ID), user(USER_ID, true))));
    mocks
        .sessions
        .expect_revoke()
        .with(eq(USER_ID), eq(SESSION_ID), eq(now()))
        .times(1)
        .return_once(|_, _, _| Ok(true));
    let service = mocks.sessions_service();

    service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect("session revoked");
}

#[tokio::test]
async fn revoke_session_of_another_user_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_find_session(Some((
        session(SESSION_ID, OTHER_USER_ID),
        user(OTHER_USER_ID, true),
    )));
    mocks.sessions.expect_revoke().never();
    let service = mocks.sessions_service();

    let error = service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect_err("not the caller's session");

    assert!(matches!(error, SessionError::NotFound), "{error:?}");
}

#[tokio::test]
async fn revoke_session_already_revoked_is_not_found() {
    let mut mocks = Mocks::new();
    let revoked = Session {
        revoked_at: Some(now() - TimeDelta::minutes(1)),
        ..session(SESSION_ID, USER_ID)
    };
    mocks.expect_find_session(Some((revoked, user(USER_ID, true))));
    mocks.sessions.expect_revoke().never();
    let service = mocks.sessions_service();

    let error = service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect_err("already revoked");

    assert!(matches!(error, SessionError::NotFound), "{error:?}");
}

#[tokio::test]
async fn revoke_session_expired_is_not_found() {
    let mut mocks = Mocks::new();
    let expired = session(SESSION_ID, USER_ID);
    mocks.now = expired.expires_at;
    mocks.expect_find_session(Some((expired, user(USER_ID, true))));
    mocks.sessions.expect_revoke().never();
    let service = mocks.sessions_service();

    let error = service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect_err("expired");

    assert!(matches!(error, SessionError::NotFound), "{error:?}");
}

#[tokio::test]
async fn revoke_session_unknown_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_find_session(None);
    mocks.sessions.expect_revoke().never();
    let service = mocks.sessions_service();

    let error = service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect_err("no such session");

    assert!(matches!(error, SessionError::NotFound), "{error:?}");
}

#[tokio::test]
async fn revoke_session_revoked_meanwhile_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_find_session(Some((session(SESSION_ID, USER_ID), user(USER_ID, true))));
    mocks
        .sessions
        .expect_revoke()
        .times(1)
        .return_once(|_, _, _| Ok(false));
    let service = mocks.sessions_service();

    let error = service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect_err("revoked by a concurrent request");

    assert!(matches!(error, SessionError::NotFound), "{error:?}");
}

#[tokio::test]
async fn list_sessions_returns_the_live_sessions_of_the_user() {
    let mut mocks = Mocks::new();
    mocks.now = now() + TimeDelta::hours(2);
    let newer = SessionId(Uuid::from_u128(0x0102));
    let live = vec![session(newer, USER_ID), session(SESSION_ID, USER_ID)];
    let answer = live.clone();
    mocks
        .sessions
        .expect_list_live()
        .with(eq(USER_ID), eq(now() + TimeDelta::hours(2)))
        .times(1)
        .return_once(move |_, _| Ok(answer));
    let service = mocks.sessions_service();

    let listed = service
        .list_sessions(USER_ID)
        .await
        .expect("listing succeeds");

    assert_eq!(listed, live);
}

#[tokio::test]
async fn list_sessions_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_list_live()
        .times(1)
        .return_once(|_, _| Err(unavailable()));
    let service = mocks.sessions_service();

    let error = service
        .list_sessions(USER_ID)
        .await
        .expect_err("storage is down");

    assert!(matches!(error, SessionError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn revoke_all_sessions_returns_how_many_were_revoked() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke_all()
        .with(eq(USER_ID), eq(now()))
        .times(1)
        .return_once(|_, _| Ok(3));
    let service = mocks.sessions_service();

    let revoked = service
        .revoke_all_sessions(USER_ID, &client())
        .await
        .expect("revoking succeeds");

    assert_eq!(revoked, 3);
}

#[tokio::test]
async fn purge_sessions_purges_at_the_current_time() {
    let mut mocks = Mocks::new();
    mocks.now = now() + TimeDelta::days(40);
    mocks
        .sessions
        .expect_purge()
        .with(eq(now() + TimeDelta::days(40)))
        .times(1)
        .return_once(|_| Ok(12));
    let service = mocks.sessions_service();

    let purged = service.purge().await.expect("purging succeeds");

    assert_eq!(purged, 12);
}
