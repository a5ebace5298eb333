//! Unit tests of the `AuthService` use-cases, every port mocked (see
//! `crate::testing`).

use std::sync::Arc;

use mockall::predicate::{always, eq};
use secrecy::ExposeSecret;

use super::{IssueTokenError, LoginError, SignupError};
use crate::testing::*;
use crate::user::{
    CreateUserError, HashError, PasswordChange, PasswordHash, PasswordVerification, Role, User,
};

// ---------------------------------------------------------------- signup

#[tokio::test]
async fn signup_creates_a_user_and_opens_a_session() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .withf(|password| password.secret().expose_secret() == PASSWORD)
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0, SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let inserted_user = Captured::default();
    let sink = Arc::clone(&inserted_user);
    mocks
        .users
        .expect_insert()
        .times(1)
        .returning(move |user, _| {
            *sink.lock().expect("lock not poisoned") = Some(user.clone());
            Ok(())
        });
    let (inserted_session, issued) = mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (user, tokens) = service
        .signup(signup_command("  Ada@Example.COM "))
        .await
        .expect("signup succeeds");

    let stored = take(&inserted_user);
    assert_eq!(stored, user, "the returned user is the stored one");
    assert_eq!(user.id, USER_ID);
    assert_eq!(user.email.as_str(), "ada@example.com");
    assert_eq!(user.password_hash.as_str(), NEW_HASH);
    assert_eq!(
        user.display_name.as_ref().map(DisplayName::as_str),
        Some("Ada")
    );
    assert_eq!(user.role, Role::User);
    assert!(user.is_active);
    assert!(!user.email_verified);
    assert_eq!((user.created_at, user.updated_at), (now(), now()));

    let (session, refresh_token, _) = take(&inserted_session);
    assert_eq!(
        session,
        Session {
            id: SESSION_ID,
            user_id: USER_ID,
            client: client(),
            created_at: now(),
            last_used_at: now(),
            expires_at: now() + settings().refresh_ttl,
            revoked_at: None,
            amr: AuthMethods::Password,
        }
    );
    assert_eq!(
        refresh_token,
        RefreshToken {
            id: REFRESH_TOKEN_ID,
            session_id: session.id,
            hash: TokenHash::of(tokens.refresh_token.expose_secret()),
            created_at: now(),
            expires_at: now() + settings().refresh_ttl,
            rotated_at: None,
        }
    );
    assert_ne!(
        refresh_token.hash.as_str(),
        tokens.refresh_token.expose_secret(),
        "only the hash of the refresh token is stored"
    );

    assert_eq!(
        take(&issued),
        AccessClaims {
            user_id: USER_ID,
            session_id: SESSION_ID,
            role: Role::User,
            issued_at: now(),
            expires_at: now() + settings().access_ttl,
            token_id: TOKEN_ID,
            amr: AuthMethods::Password,
        }
    );
    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
    assert_eq!(tokens.refresh_token.expose_secret(), REFRESH_TOKEN);
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.session_id, SESSION_ID);
}

#[tokio::test]
async fn signup_with_a_taken_email_opens_no_session() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0]);
    mocks
        .users
        .expect_insert()
        .withf(|user, _| user.email == email())
        .times(1)
        .return_once(|_, _| Err(CreateUserError::EmailTaken));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ADA@example.com"))
        .await
        .expect_err("the address is taken");

    assert!(matches!(error, SignupError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn signup_when_hashing_is_busy_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Busy));
    mocks.users.expect_insert().never();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("no hashing capacity");

    assert!(matches!(error, SignupError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_hashing_fails_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Unexpected(anyhow::anyhow!("worker died"))));
    mocks.users.expect_insert().never();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("hashing failed");

    assert!(matches!(error, SignupError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_user_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0]);
    mocks
        .users
        .expect_insert()
        .times(1)
        .return_once(|_, _| Err(CreateUserError::Storage(unavailable())));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("storage is down");

    assert!(matches!(error, SignupError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_session_storage_is_unavailable_issues_no_token() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0, SESSION_ID.0, REFRESH_TOKEN_ID.0]);
    mocks
        .users
        .expect_insert()
        .times(1)
        .return_once(|_, _| Ok(()));
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| REFRESH_TOKEN.to_owned());
    mocks
        .sessions
        .expect_insert()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    mocks.issuer.expect_issue().never();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("storage is down");

    assert!(matches!(error, SignupError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_signing_fails_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0, SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks
        .users
        .expect_insert()
        .times(1)
        .return_once(|_, _| Ok(()));
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| REFRESH_TOKEN.to_owned());
    mocks
        .sessions
        .expect_insert()
        .times(1)
        .return_once(|_, _, _| Ok(()));
    mocks
        .issuer
        .expect_issue()
        .times(1)
        .return_once(|_| Err(IssueTokenError(anyhow::anyhow!("broken key"))));
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("signing failed");

    assert!(matches!(error, SignupError::Unexpected(_)), "{error:?}");
}

// ----------------------------------------------------------------- login

#[tokio::test]
async fn login_with_the_right_password_opens_a_session() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_no_rehash();
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let (inserted_session, issued) = mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (logged_in, tokens) = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(logged_in, user(USER_ID, true));
    let (session, refresh_token, _) = take(&inserted_session);
    assert_eq!(session.id, SESSION_ID);
    assert_eq!(session.client, client());
    assert_eq!(session.expires_at, now() + settings().refresh_ttl);
    assert_eq!(session.revoked_at, None);
    assert_eq!(refresh_token.session_id, session.id);
    assert_eq!(
        refresh_token.hash,
        TokenHash::of(tokens.refresh_token.expose_secret())
    );
    assert_eq!(refresh_token.rotated_at, None);
    assert_eq!(refresh_token.expires_at, now() + settings().refresh_ttl);
    let claims = take(&issued);
    assert_eq!((claims.user_id, claims.session_id), (USER_ID, SESSION_ID));
    assert_eq!(claims.role, Role::User);
    assert_eq!(claims.issued_at, now());
    assert_eq!(claims.expires_at, now() + settings().access_ttl);
    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.session_id, SESSION_ID);
}

#[tokio::test]
async fn login_issues_the_role_of_the_stored_user() {
    let mut mocks = Mocks::new();
    let admin = User {
        role: Role::Admin,
        ..user(USER_ID, true)
    };
    mocks.expect_find_by_email(email(), Some(admin));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let (_, issued) = mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(take(&issued).role, Role::Admin);
}

#[tokio::test]
async fn login_with_a_wrong_password_is_refused() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("wrong password");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_an_unknown_email_verifies_the_dummy_hash() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), None);
    // The dummy hash never matches in practice, but the answer must not
    // depend on it: an unknown address is always refused.
    mocks
        .hasher
        .expect_verify()
        .withf(|candidate, hash| {
            candidate.expose_secret() == PASSWORD && hash.as_str() == DUMMY_HASH
        })
        .times(1)
        .return_once(|_, _| {
            Ok(PasswordVerification::Match {
                needs_rehash: false,
            })
        });
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("unknown address");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_a_malformed_email_never_queries_storage() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().never();
    mocks.expect_verify(PASSWORD, DUMMY_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("not an address", PASSWORD))
        .await
        .expect_err("malformed address");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_of_a_disabled_user_with_the_right_password_is_disabled() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, false)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("account disabled");

    assert!(matches!(error, LoginError::AccountDisabled), "{error:?}");
}

#[tokio::test]
async fn login_of_a_disabled_user_with_a_wrong_password_reveals_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, false)));
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("wrong password");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_upgrades_an_outdated_hash() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks
        .hasher
        .expect_hash()
        .withf(|password| password.secret().expose_secret() == PASSWORD)
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks
        .users
        .expect_update_password_hash()
        .with(
            eq(USER_ID),
            eq(PasswordHash::new(NEW_HASH.into())),
            eq(now()),
            always(),
            // The same password: nothing else ends.
            eq(PasswordChange::Rehash),
        )
        .times(1)
        .return_once(|_, _, _, _, _| Ok(Some(0)));
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (logged_in, _) = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(logged_in.id, USER_ID);
}

#[tokio::test]
async fn login_succeeds_when_the_hash_upgrade_cannot_hash() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Busy));
    mocks.users.expect_update_password_hash().never();
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (_, tokens) = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("a failed upgrade does not fail the login");

    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
}

#[tokio::test]
async fn login_succeeds_when_the_hash_upgrade_cannot_be_stored() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks
        .users
        .expect_update_password_hash()
        .times(1)
        .return_once(|_, _, _, _, _| Err(unavailable()));
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("a failed upgrade does not fail the login");
}

#[tokio::test]
async fn login_looks_the_email_up_case_insensitively() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(
        Email::parse("ada@example.com").expect("valid e-mail address"),
        Some(user(USER_ID, true)),
    );
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (logged_in, _) = service
        .login(login_command("  ADA@Example.com ", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(logged_in.email.as_str(), "ada@example.com");
}

#[tokio::test]
async fn login_when_hashing_is_busy_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .return_once(|_, _| Err(HashError::Busy));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("no hashing capacity");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn login_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .times(1)
        .return_once(|_| Err(unavailable()));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("storage is down");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
}
