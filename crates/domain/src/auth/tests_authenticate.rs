//! Unit tests of `AuthService::authenticate`, on the fixtures of
//! `crate::testing`.

use chrono::TimeDelta;
use mockall::predicate::eq;

use super::{AuthenticateError, TokenRejection};
use crate::testing::*;
use crate::user::{Role, User};

// ---------------------------------------------------------- authenticate

#[tokio::test]
async fn authenticate_returns_the_current_user_and_session() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    // The stored user changed since the token was issued: the stored one wins.
    let promoted = User {
        role: Role::Admin,
        ..user(USER_ID, true)
    };
    mocks.expect_find_session(Some((session(SESSION_ID, USER_ID), promoted.clone())));
    let service = mocks.service();

    let authenticated = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect("token is valid");

    assert_eq!(authenticated.user, promoted);
    assert_eq!(authenticated.session_id, SESSION_ID);
}

#[tokio::test]
async fn authenticate_passes_on_the_verifier_rejection() {
    let mut mocks = Mocks::new();
    mocks
        .verifier
        .expect_verify()
        .withf(|token| token == ACCESS_TOKEN)
        .times(1)
        .return_once(|_| Err(TokenRejection::Expired));
    mocks.sessions.expect_find_with_user().never();
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("token rejected");

    assert!(
        matches!(error, AuthenticateError::Rejected(TokenRejection::Expired)),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_deleted_session() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(None);
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("no session");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_revoked_session() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    let revoked = Session {
        revoked_at: Some(now() - TimeDelta::seconds(1)),
        ..session(SESSION_ID, USER_ID)
    };
    mocks.expect_find_session(Some((revoked, user(USER_ID, true))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session revoked");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_session_expiring_now() {
    let mut mocks = Mocks::new();
    let expiring = session(SESSION_ID, USER_ID);
    mocks.now = expiring.expires_at;
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((expiring, user(USER_ID, true))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session expired");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_an_expired_session() {
    let mut mocks = Mocks::new();
    let expired = session(SESSION_ID, USER_ID);
    mocks.now = expired.expires_at + TimeDelta::days(3);
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((expired, user(USER_ID, true))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session expired");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_accepts_a_session_just_before_it_expires() {
    let mut mocks = Mocks::new();
    let expiring = session(SESSION_ID, USER_ID);
    mocks.now = expiring.expires_at - TimeDelta::seconds(1);
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((expiring, user(USER_ID, true))));
    let service = mocks.service();

    let authenticated = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect("session still live");

    assert_eq!(authenticated.session_id, SESSION_ID);
}

#[tokio::test]
async fn authenticate_refuses_a_session_of_another_user() {
    let mut mocks = Mocks::new();
    // A token naming one user but a session id that belongs to another.
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((
        session(SESSION_ID, OTHER_USER_ID),
        user(OTHER_USER_ID, true),
    )));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session of another user");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_disabled_user() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((session(SESSION_ID, USER_ID), user(USER_ID, false))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("user disabled");

    assert!(matches!(error, AuthenticateError::UserInvalid), "{error:?}");
}

#[tokio::test]
async fn authenticate_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks
        .sessions
        .expect_find_with_user()
        .with(eq(SESSION_ID))
        .times(1)
        .return_once(|_| Err(unavailable()));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("storage is down");

    assert!(
        matches!(error, AuthenticateError::Unavailable(_)),
        "{error:?}"
    );
}
