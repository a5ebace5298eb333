//! Unit tests of the current user's own account (profile, password change,
//! deletion), every port mocked and time set through the mocked clock.
//!
//! As in `tests.rs`, a mock method without an expectation panics when called,
//! and `times(..)` are checked when the service is dropped.

use chrono::TimeDelta;
use mockall::Sequence;
use mockall::predicate::{always, eq};
use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use super::AccountError;
use crate::session::SessionId;
use crate::testing::*;
use crate::user::{
    DisplayName, HashError, Password, PasswordChange, PasswordHash, PasswordPolicy,
    PasswordVerification,
};

const NEW_PASSWORD: &str = "a fresh and unusual passphrase";

fn new_password() -> Password {
    Password::parse(NEW_PASSWORD.into(), &PasswordPolicy::default(), None)
        .expect("password passes the policy")
}

fn matches() -> PasswordVerification {
    PasswordVerification::Match {
        needs_rehash: false,
    }
}

impl Mocks {
    /// Nothing is hashed, stored or revoked.
    fn expect_no_writes(&mut self) {
        self.hasher.expect_hash().never();
        self.users.expect_update_password_hash().never();
        self.users.expect_update_display_name().never();
        self.users.expect_delete().never();
        self.sessions.expect_revoke_all_except().never();
        self.sessions.expect_revoke_all().never();
    }
}

// --------------------------------------------------------------- profile

#[tokio::test]
async fn update_profile_sets_the_display_name() {
    let at = now() + TimeDelta::minutes(5);
    let mut mocks = Mocks::new();
    mocks.now = at;
    let name = DisplayName::parse("Countess of Lovelace").expect("valid display name");
    mocks
        .users
        .expect_update_display_name()
        .with(eq(USER_ID), eq(Some(name.clone())), eq(at))
        .times(1)
        .return_once(|_, _, _| Ok(true));
    let service = mocks.account_service(None);

    let updated = service
        .update_profile(user(USER_ID, true), Some(name.clone()))
        .await
        .expect("profile updated");

    assert_eq!(updated.display_name, Some(name));
    assert_eq!(updated.updated_at, at);
    assert_eq!(updated.created_at, user(USER_ID, true).created_at);
    assert_eq!(updated.email, user(USER_ID, true).email);
}

#[tokio::test]
async fn update_profile_clears_the_display_name() {
    let at = now() + TimeDelta::seconds(1);
    let mut mocks = Mocks::new();
    mocks.now = at;
    mocks
        .users
        .expect_update_display_name()
        .with(eq(USER_ID), eq(None), eq(at))
        .times(1)
        .return_once(|_, _, _| Ok(true));
    let service = mocks.account_service(None);

    let updated = service
        .update_profile(user(USER_ID, true), None)
        .await
        .expect("profile updated");

    assert_eq!(updated.display_name, None);
    assert_eq!(updated.updated_at, at);
}

#[tokio::test]
async fn update_profile_of_a_vanished_user_is_not_found() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_update_display_name()
        .times(1)
        .return_once(|_, _, _| Ok(false));
    let service = mocks.account_service(None);

    let error = service
        .update_profile(user(USER_ID, true), None)
        .await
        .expect_err("user gone");

    assert!(matches!(error, AccountError::NotFound), "{error:?}");
}

#[tokio::test]
async fn update_profile_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_update_display_name()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    let service = mocks.account_service(None);

    let error = service
        .update_profile(user(USER_ID, true), None)
        .await
        .expect_err("storage unavailable");

    assert!(matches!(error, AccountError::Unavailable(_)), "{error:?}");
}

// --------------------------------------------------------------- password

#[tokio::test]
async fn change_password_with_a_wrong_current_password_changes_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_writes();
    let service = mocks.account_service(None);

    let error = service
        .change_password(
            &user(USER_ID, true),
            SESSION_ID,
            &client(),
            &SecretString::from(WRONG_PASSWORD),
            &new_password(),
        )
        .await
        .expect_err("wrong password");

    assert!(matches!(error, AccountError::WrongPassword), "{error:?}");
}

#[tokio::test]
async fn change_password_stores_the_new_hash_and_revokes_the_other_sessions() {
    let at = now() + TimeDelta::hours(2);
    let mut mocks = Mocks::new();
    mocks.now = at;
    let mut sequence = Sequence::new();
    mocks
        .hasher
        .expect_verify()
        .withf(|candidate, stored| {
            candidate.expose_secret() == PASSWORD && stored.as_str() == STORED_HASH
        })
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _| Ok(matches()));
    mocks
        .hasher
        .expect_hash()
        .withf(|password| password.secret().expose_secret() == NEW_PASSWORD)
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks
        .users
        .expect_update_password_hash()
        .withf(move |id, hash, updated_at, _, change| {
            // The other sessions and the reset links end in the same write.
            *id == USER_ID
                && hash.as_str() == NEW_HASH
                && *updated_at == at
                && *change
                    == PasswordChange::NewPassword {
                        keep: Some(SESSION_ID),
                    }
        })
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _, _, _, _| Ok(Some(3)));
    // Nothing is revoked on its own, after the new password is stored.
    mocks.sessions.expect_revoke_all_except().never();
    mocks.sessions.expect_revoke_all().never();
    let service = mocks.account_service(None);

    service
        .change_password(
            &user(USER_ID, true),
            SESSION_ID,
            &client(),
            &SecretString::from(PASSWORD),
            &new_password(),
        )
        .await
        .expect("password changed");
}

#[tokio::test]
async fn change_password_of_a_vanished_user_is_not_found_and_revokes_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(PASSWORD, STORED_HASH, matches());
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks
        .users
        .expect_update_password_hash()
        .times(1)
        .return_once(|_, _, _, _, _| Ok(None));
    mocks.sessions.expect_revoke_all_except().never();
    let service = mocks.account_service(None);

    let error = service
        .change_password(
            &user(USER_ID, true),
            SessionId(Uuid::from_u128(0x0199)),
            &client(),
            &SecretString::from(PASSWORD),
            &new_password(),
        )
        .await
        .expect_err("user gone");

    assert!(matches!(error, AccountError::NotFound), "{error:?}");
}

#[tokio::test]
async fn change_password_when_hashing_is_busy_is_unavailable_and_stores_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(PASSWORD, STORED_HASH, matches());
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Busy));
    mocks.users.expect_update_password_hash().never();
    mocks.sessions.expect_revoke_all_except().never();
    let service = mocks.account_service(None);

    let error = service
        .change_password(
            &user(USER_ID, true),
            SESSION_ID,
            &client(),
            &SecretString::from(PASSWORD),
            &new_password(),
        )
        .await
        .expect_err("hashing busy");

    assert!(matches!(error, AccountError::Unavailable(_)), "{error:?}");
}

// --------------------------------------------------------------- deletion

#[tokio::test]
async fn delete_account_with_a_wrong_password_deletes_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_writes();
    let service = mocks.account_service(None);

    let error = service
        .delete_account(
            &user(USER_ID, true),
            &client(),
            &SecretString::from(WRONG_PASSWORD),
        )
        .await
        .expect_err("wrong password");

    assert!(matches!(error, AccountError::WrongPassword), "{error:?}");
}

#[tokio::test]
async fn delete_account_with_the_right_password_deletes_the_user() {
    let mut mocks = Mocks::new();
    let mut sequence = Sequence::new();
    mocks
        .hasher
        .expect_verify()
        .withf(|candidate, stored| {
            candidate.expose_secret() == PASSWORD && stored.as_str() == STORED_HASH
        })
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _| Ok(PasswordVerification::Match { needs_rehash: true }));
    mocks
        .users
        .expect_delete()
        .with(eq(USER_ID), always())
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _| Ok(true));
    // An outdated hash is not upgraded on an account about to go.
    mocks.hasher.expect_hash().never();
    mocks.users.expect_update_password_hash().never();
    let service = mocks.account_service(None);

    service
        .delete_account(
            &user(USER_ID, true),
            &client(),
            &SecretString::from(PASSWORD),
        )
        .await
        .expect("account deleted");
}

#[tokio::test]
async fn delete_account_of_a_vanished_user_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(PASSWORD, STORED_HASH, matches());
    mocks
        .users
        .expect_delete()
        .with(eq(USER_ID), always())
        .times(1)
        .return_once(|_, _| Ok(false));
    let service = mocks.account_service(None);

    let error = service
        .delete_account(
            &user(USER_ID, true),
            &client(),
            &SecretString::from(PASSWORD),
        )
        .await
        .expect_err("user gone");

    assert!(matches!(error, AccountError::NotFound), "{error:?}");
}

#[tokio::test]
async fn delete_account_when_hashing_fails_is_unexpected_and_deletes_nothing() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .return_once(|_, _| Err(HashError::Unexpected(anyhow::anyhow!("malformed hash"))));
    mocks.users.expect_delete().never();
    let service = mocks.account_service(None);

    let error = service
        .delete_account(
            &user(USER_ID, true),
            &client(),
            &SecretString::from(PASSWORD),
        )
        .await
        .expect_err("hashing failed");

    assert!(matches!(error, AccountError::Unexpected(_)), "{error:?}");
}

fn admin() -> crate::user::User {
    crate::user::User {
        role: crate::user::Role::Admin,
        ..user(USER_ID, true)
    }
}

#[tokio::test]
async fn the_last_active_admin_cannot_delete_their_account() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(PASSWORD, STORED_HASH, matches());
    mocks
        .users
        .expect_update_access()
        .with(
            eq(USER_ID),
            eq(crate::user::AccessChanges {
                is_active: Some(false),
                role: None,
            }),
            eq(now()),
            always(),
        )
        .times(1)
        .return_once(|_, _, _, _| Ok(crate::user::AccessUpdate::LastAdmin));
    mocks.users.expect_delete().never();
    let service = mocks.account_service(None);

    let error = service
        .delete_account(&admin(), &client(), &SecretString::from(PASSWORD))
        .await
        .expect_err("last admin");

    assert!(matches!(error, AccountError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn an_admin_with_a_peer_can_delete_their_account() {
    let mut mocks = Mocks::new();
    let mut sequence = Sequence::new();
    mocks.expect_verify(PASSWORD, STORED_HASH, matches());
    mocks
        .users
        .expect_update_access()
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _, _, _| {
            Ok(crate::user::AccessUpdate::Updated {
                before: Box::new(admin()),
                after: Box::new(admin()),
            })
        });
    mocks
        .users
        .expect_delete()
        .with(eq(USER_ID), always())
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _| Ok(true));
    let service = mocks.account_service(None);

    service
        .delete_account(&admin(), &client(), &SecretString::from(PASSWORD))
        .await
        .expect("deleted");
}
