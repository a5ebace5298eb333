//! The example's wiring and its own use-case, `Embedded::register`, tested
//! against auth-domain's `mockall` mocks (the `mocks` feature): storage and
//! hashing are mocked, the rest stays on the in-memory adapters.
//!
//! A mock method without an expectation panics when called, so each test
//! sets up only the calls it expects; `.never()` spells out those that
//! matter, and `times(..)` is checked when the mock is dropped.

use std::sync::Arc;

use auth_domain::auth::{LoginError, SignupError};
use auth_domain::session::MockSessionRepository;
use auth_domain::user::{
    CreateUserError, Email, MockPasswordHasher, MockUserRepository, PasswordHash,
    PasswordVerification, User,
};
use embedded_service::adapters::ManualClock;
use embedded_service::{Embedded, Ports, RegisterError, RegistrationForm, Settings, wire_with};
use mockall::predicate::{always, eq};
use secrecy::ExposeSecret as _;

use crate::helpers::{PASSWORD, login_command, start};

/// What the mocked hasher hands out for the wiring's random password.
const DUMMY_HASH: &str = "$demo-sha256$i=1$ZHVtbXk$ZHVtbXk";
/// What it hands out for the new account's password.
const NEW_HASH: &str = "$demo-sha256$i=1$bmV3$bmV3";

/// A hasher that expects the one hash `wire_with` computes up front.
fn hasher_for_wiring() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(PasswordHash::new(DUMMY_HASH.into())));
    hasher
}

/// The services with these mocks for storage and hashing.
async fn wired(
    users: MockUserRepository,
    sessions: MockSessionRepository,
    hasher: MockPasswordHasher,
) -> Embedded {
    let ports = Ports {
        users: Arc::new(users),
        sessions: Arc::new(sessions),
        hasher: Arc::new(hasher),
        ..Ports::in_memory(Arc::new(ManualClock::new(start())))
    };
    wire_with(ports, Settings::default())
        .await
        .expect("wiring succeeds")
}

#[tokio::test]
async fn register_stores_the_normalised_address_and_opens_a_session() {
    let mut hasher = hasher_for_wiring();
    hasher
        .expect_hash()
        .withf(|password| password.secret().expose_secret() == PASSWORD)
        .times(1)
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    let mut users = MockUserRepository::new();
    users
        .expect_insert()
        .withf(|user: &User, _| {
            user.email.as_str() == "ada@example.com"
                && user.password_hash.as_str() == NEW_HASH
                && user.display_name.as_ref().map(|n| n.as_str()) == Some("Ada")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let mut sessions = MockSessionRepository::new();
    sessions
        .expect_insert()
        .withf(|session, token, event| {
            session.id == token.session_id && token.rotated_at.is_none() && event.is_none()
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let embedded = wired(users, sessions, hasher).await;

    let (user, tokens) = embedded
        .register(RegistrationForm {
            display_name: Some("  Ada ".into()),
            ..RegistrationForm::new("  Ada@Example.COM ", PASSWORD)
        })
        .await
        .expect("registration succeeds");
    assert_eq!(user.email.as_str(), "ada@example.com");
    assert!(!tokens.access_token.expose_secret().is_empty());
}

#[tokio::test]
async fn an_invalid_form_reaches_neither_hasher_nor_storage() {
    // Only the wiring's hash: an expectation-less call would panic, and
    // `never()` says so out loud.
    let hasher = hasher_for_wiring();
    let mut users = MockUserRepository::new();
    users.expect_insert().never();
    let mut sessions = MockSessionRepository::new();
    sessions.expect_insert().never();
    let embedded = wired(users, sessions, hasher).await;

    let result = embedded
        .register(RegistrationForm::new("ada@example", "qwertyuiop"))
        .await;
    let Err(RegisterError::Invalid(fields)) = result else {
        panic!("expected an invalid form, got {result:?}");
    };
    let names: Vec<_> = fields.iter().map(|f| f.field).collect();
    assert_eq!(names, ["email", "password"]);
}

#[tokio::test]
async fn a_taken_address_opens_no_session() {
    let mut hasher = hasher_for_wiring();
    hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    let mut users = MockUserRepository::new();
    users
        .expect_insert()
        .times(1)
        .returning(|_, _| Err(CreateUserError::EmailTaken));
    let mut sessions = MockSessionRepository::new();
    sessions.expect_insert().never();
    let embedded = wired(users, sessions, hasher).await;

    let result = embedded
        .register(RegistrationForm::new("ada@example.com", PASSWORD))
        .await;
    assert!(
        matches!(result, Err(RegisterError::Signup(SignupError::EmailTaken))),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unknown_address_costs_a_check_against_the_wired_dummy_hash() {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_email()
        .with(eq(
            Email::parse("nobody@example.com").expect("valid e-mail address")
        ))
        .times(1)
        .returning(|_| Ok(None));
    let mut hasher = hasher_for_wiring();
    // The same work as for a real account: the hash `wire_with` computed
    // with the same hasher, not a cheap shortcut.
    hasher
        .expect_verify()
        .with(always(), eq(PasswordHash::new(DUMMY_HASH.into())))
        .times(1)
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    let embedded = wired(users, MockSessionRepository::new(), hasher).await;

    let result = embedded
        .auth
        .login(login_command(" NOBODY@example.com", PASSWORD))
        .await;
    assert!(
        matches!(result, Err(LoginError::InvalidCredentials)),
        "{result:?}"
    );
}
