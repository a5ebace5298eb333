//! Unit tests of the forgotten-password and reset flows and of the mail
//! allowance, on the fixtures of `tests.rs`.

use chrono::{DateTime, TimeDelta, Utc};
use mockall::Sequence;
use mockall::predicate::eq;
use secrecy::{ExposeSecret as _, SecretString};

use super::tests::*;
use super::{MAIL_WINDOW, RESET_PASSWORD_TTL, RecoveryError, TokenPurpose};
use crate::common::TokenHash;
use crate::testing::*;
use crate::user::{HashError, PasswordChange, PasswordError, PasswordHash, PasswordPolicy};

// --------------------------------------------------------- forgot_password

#[tokio::test]
async fn forgot_password_of_an_unknown_address_sends_nothing() {
    let mut m = MailMocks::at(later());
    m.mocks.expect_find_by_email(email(), None);
    m.expect_nothing_sent();
    let service = m.service();

    service
        .forgot_password("Ada@Example.com", &client())
        .await
        .expect("same answer");
}

#[tokio::test]
async fn forgot_password_of_a_malformed_address_never_queries_storage() {
    let mut m = MailMocks::at(later());
    m.mocks.users.expect_find_by_email().never();
    m.expect_nothing_sent();
    let service = m.service();

    service
        .forgot_password("not an address", &client())
        .await
        .expect("same answer");
}

#[tokio::test]
async fn forgot_password_of_a_disabled_user_sends_nothing() {
    let mut m = MailMocks::at(later());
    m.mocks
        .expect_find_by_email(email(), Some(user(USER_ID, false)));
    m.expect_nothing_sent();
    let service = m.service();

    service
        .forgot_password("ada@example.com", &client())
        .await
        .expect("same answer");
}

#[tokio::test]
async fn forgot_password_of_a_known_address_mails_a_reset_link() {
    let mut m = MailMocks::at(later());
    m.mocks
        .expect_find_by_email(email(), Some(user(USER_ID, true)));
    let inserted = m.expect_token_issued();
    let sent = m.expect_mail_sent();
    let service = m.service();

    service
        .forgot_password("  ADA@example.com ", &client())
        .await
        .expect("mail sent");

    let token = take(&inserted);
    let mail = take(&sent);
    assert_eq!(token.id, ACTION_TOKEN_ID);
    assert_eq!(token.user_id, USER_ID);
    assert_eq!(token.purpose, TokenPurpose::ResetPassword);
    assert_eq!(token.created_at, later());
    assert_eq!(token.expires_at, later() + TimeDelta::hours(1));
    assert_eq!(RESET_PASSWORD_TTL, TimeDelta::hours(1));
    assert_eq!(mail.to, email());
    let link = links().reset_url.replace("{token}", MAILED_TOKEN);
    assert!(mail.text.contains(&link), "{}", mail.text);
    let mailed = token_in(&mail.text, &links().reset_url);
    assert_eq!(mailed, MAILED_TOKEN);
    assert_eq!(token.hash, TokenHash::of(&mailed));
}

#[tokio::test]
async fn forgot_password_when_the_mailer_fails_is_unavailable() {
    let mut m = MailMocks::at(later());
    m.mocks
        .expect_find_by_email(email(), Some(user(USER_ID, true)));
    let _ = m.expect_token_issued();
    m.mailer
        .expect_send()
        .times(1)
        .return_once(|_| Err(mail_error()));
    let service = m.service();

    let error = service
        .forgot_password("ada@example.com", &client())
        .await
        .expect_err("mailer down");

    assert!(matches!(error, RecoveryError::Unavailable(_)), "{error:?}");
}

// ---------------------------------------------------------- reset_password

#[tokio::test]
async fn reset_password_with_an_invalid_token_changes_nothing() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(TokenPurpose::ResetPassword, later(), None);
    m.mocks.users.expect_find_by_id().never();
    m.tokens.expect_consume().never();
    m.expect_no_password_change();
    let service = m.service();

    let error = service
        .reset_password(
            PRESENTED,
            SecretString::from(NEW_PASSWORD),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect_err("invalid token");

    assert!(matches!(error, RecoveryError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_with_a_weak_password_keeps_the_token() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::ResetPassword,
        later(),
        Some(stored(TokenPurpose::ResetPassword, later())),
    );
    m.mocks
        .users
        .expect_find_by_id()
        .with(eq(USER_ID))
        .times(1)
        .return_once(|_| Ok(Some(user(USER_ID, true))));
    m.tokens.expect_consume().never();
    m.expect_no_password_change();
    let service = m.service();

    let error = service
        .reset_password(
            PRESENTED,
            SecretString::from("short"),
            &PasswordPolicy { min_length: 12 },
            &client(),
        )
        .await
        .expect_err("weak password");

    assert!(
        matches!(
            error,
            RecoveryError::InvalidPassword(PasswordError::TooShort { min: 12 })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn reset_password_refuses_the_users_own_address_as_password() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::ResetPassword,
        later(),
        Some(stored(TokenPurpose::ResetPassword, later())),
    );
    m.mocks
        .users
        .expect_find_by_id()
        .times(1)
        .return_once(|_| Ok(Some(user(USER_ID, true))));
    m.tokens.expect_consume().never();
    m.expect_no_password_change();
    let service = m.service();

    let error = service
        .reset_password(
            PRESENTED,
            SecretString::from("Ada@Example.com"),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect_err("password is the address");

    assert!(
        matches!(
            error,
            RecoveryError::InvalidPassword(PasswordError::SameAsEmail)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn reset_password_sets_the_new_hash_and_revokes_every_session() {
    let at = later();
    let mut m = MailMocks::at(at);
    let mut sequence = Sequence::new();
    m.tokens
        .expect_find_valid()
        .with(
            eq(TokenHash::of(PRESENTED)),
            eq(TokenPurpose::ResetPassword),
            eq(at),
        )
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(move |_, _, _| Ok(Some(stored(TokenPurpose::ResetPassword, at))));
    m.mocks
        .users
        .expect_find_by_id()
        .with(eq(USER_ID))
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_| Ok(Some(user(USER_ID, true))));
    m.mocks
        .hasher
        .expect_hash()
        .withf(|password| password.secret().expose_secret() == NEW_PASSWORD)
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    m.tokens
        .expect_consume()
        .with(eq(ACTION_TOKEN_ID), eq(at))
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _| Ok(true));
    m.mocks
        .users
        .expect_update_password_hash()
        .withf(move |id, hash, updated_at, _, change| {
            // Every session and every other reset link end in the same
            // write as the new hash.
            *id == USER_ID
                && hash.as_str() == NEW_HASH
                && *updated_at == at
                && *change == PasswordChange::NewPassword { keep: None }
        })
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _, _, _, _| Ok(Some(2)));
    m.tokens.expect_invalidate().never();
    m.mocks.sessions.expect_revoke_all().never();
    m.mocks.sessions.expect_revoke_all_except().never();
    let service = m.service();

    service
        .reset_password(
            PRESENTED,
            SecretString::from(NEW_PASSWORD),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect("password reset");
}

#[tokio::test]
async fn reset_password_with_a_token_consumed_meanwhile_changes_nothing() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::ResetPassword,
        later(),
        Some(stored(TokenPurpose::ResetPassword, later())),
    );
    m.mocks
        .users
        .expect_find_by_id()
        .times(1)
        .return_once(|_| Ok(Some(user(USER_ID, true))));
    m.mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    m.tokens
        .expect_consume()
        .times(1)
        .return_once(|_, _| Ok(false));
    m.mocks.users.expect_update_password_hash().never();
    m.mocks.sessions.expect_revoke_all().never();
    let service = m.service();

    let error = service
        .reset_password(
            PRESENTED,
            SecretString::from(NEW_PASSWORD),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect_err("raced");

    assert!(matches!(error, RecoveryError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_of_a_vanished_user_is_invalid_and_keeps_the_token() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::ResetPassword,
        later(),
        Some(stored(TokenPurpose::ResetPassword, later())),
    );
    m.mocks
        .users
        .expect_find_by_id()
        .times(1)
        .return_once(|_| Ok(None));
    m.tokens.expect_consume().never();
    m.expect_no_password_change();
    let service = m.service();

    let error = service
        .reset_password(
            PRESENTED,
            SecretString::from(NEW_PASSWORD),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect_err("user gone");

    assert!(matches!(error, RecoveryError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_when_hashing_is_busy_keeps_the_token() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::ResetPassword,
        later(),
        Some(stored(TokenPurpose::ResetPassword, later())),
    );
    m.mocks
        .users
        .expect_find_by_id()
        .times(1)
        .return_once(|_| Ok(Some(user(USER_ID, true))));
    m.mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Busy));
    m.tokens.expect_consume().never();
    m.mocks.users.expect_update_password_hash().never();
    m.mocks.sessions.expect_revoke_all().never();
    let service = m.service();

    let error = service
        .reset_password(
            PRESENTED,
            SecretString::from(NEW_PASSWORD),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect_err("hashing busy");

    assert!(matches!(error, RecoveryError::Unavailable(_)), "{error:?}");
}

// ------------------------------------------------------ disabled accounts

#[tokio::test]
async fn verify_email_of_a_disabled_account_is_refused_and_keeps_the_token() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::VerifyEmail,
        later(),
        Some(stored(TokenPurpose::VerifyEmail, later())),
    );
    m.expect_owner(false);
    m.tokens.expect_consume().never();
    m.mocks.users.expect_set_email_verified().never();
    let service = m.service();

    let error = service
        .verify_email(PRESENTED, &client())
        .await
        .expect_err("disabled");

    assert!(matches!(error, RecoveryError::AccountDisabled), "{error:?}");
}

#[tokio::test]
async fn reset_password_of_a_disabled_account_changes_nothing() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::ResetPassword,
        later(),
        Some(stored(TokenPurpose::ResetPassword, later())),
    );
    m.expect_owner(false);
    m.tokens.expect_consume().never();
    m.tokens.expect_invalidate().never();
    m.expect_no_password_change();
    let service = m.service();

    let error = service
        .reset_password(
            PRESENTED,
            SecretString::from(NEW_PASSWORD),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect_err("disabled");

    assert!(matches!(error, RecoveryError::AccountDisabled), "{error:?}");
}

// ------------------------------------------------------------ mail throttle

/// A limiter that counts `hit`s per key at the mocked time and answers with
/// windows that end `resets_in` later.
fn mail_limiter(at: DateTime<Utc>, resets_in: TimeDelta, start_at: u64) -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    let count = std::sync::Mutex::new(start_at);
    limiter
        .expect_hit()
        .withf(move |key, window, now| {
            key.starts_with("mail:")
                && !key.contains("example.com")
                && *window == MAIL_WINDOW
                && *now == at
        })
        .returning(move |_, _, now| {
            let mut count = count.lock().expect("lock not poisoned");
            *count += 1;
            Ok(WindowCount {
                count: *count,
                resets_at: now + resets_in,
            })
        });
    limiter
}

#[tokio::test]
async fn forgot_password_past_the_hourly_allowance_sends_nothing_and_still_succeeds() {
    let mut m = MailMocks::at(later());
    m.mocks
        .expect_find_by_email(email(), Some(user(USER_ID, true)));
    m.expect_nothing_sent();
    let service = m.service_limited(mail_limiter(later(), TimeDelta::minutes(20), 3), 3);

    service
        .forgot_password("ada@example.com", &client())
        .await
        .expect("the answer never says whether mail went out");
}

#[tokio::test]
async fn forgot_password_within_the_allowance_mails_a_link() {
    let mut m = MailMocks::at(later());
    m.mocks
        .expect_find_by_email(email(), Some(user(USER_ID, true)));
    m.expect_token_issued();
    m.expect_mail_sent();
    let service = m.service_limited(mail_limiter(later(), TimeDelta::minutes(20), 2), 3);

    service
        .forgot_password("ada@example.com", &client())
        .await
        .expect("sent");
}

#[tokio::test]
async fn request_email_verification_past_the_allowance_is_rate_limited() {
    let mut m = MailMocks::at(later());
    m.expect_nothing_sent();
    let service = m.service_limited(mail_limiter(later(), TimeDelta::seconds(1_199), 5), 5);

    let error = service
        .request_email_verification(&unverified())
        .await
        .expect_err("limited");

    assert!(
        matches!(
            error,
            RecoveryError::RateLimited {
                retry_after_secs: 1_199
            }
        ),
        "{error:?}"
    );
}

// ------------------------------------------------------------ set_password

#[tokio::test]
async fn an_operator_sets_a_password_and_ends_every_session_and_link() {
    let at = later();
    let mut m = MailMocks::at(at);
    m.mocks
        .expect_find_by_email(email(), Some(user(USER_ID, true)));
    m.mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    m.mocks
        .users
        .expect_update_password_hash()
        .withf(move |id, hash, updated_at, _, change| {
            *id == USER_ID
                && hash.as_str() == NEW_HASH
                && *updated_at == at
                && *change == PasswordChange::NewPassword { keep: None }
        })
        .times(1)
        .return_once(|_, _, _, _, _| Ok(Some(2)));
    m.tokens.expect_invalidate().never();
    m.mocks.sessions.expect_revoke_all().never();
    let service = m.service();
    let password = crate::user::Password::parse(
        SecretString::from(NEW_PASSWORD),
        &PasswordPolicy::default(),
        Some(&email()),
    )
    .expect("valid");

    let user = service
        .set_password(&email(), &password)
        .await
        .expect("set");

    assert_eq!(user.id, USER_ID);
}

#[tokio::test]
async fn an_operator_cannot_set_the_password_of_an_unknown_address() {
    let mut m = MailMocks::at(later());
    m.mocks.expect_find_by_email(email(), None);
    m.expect_no_password_change();
    m.tokens.expect_invalidate().never();
    let service = m.service();
    let password = crate::user::Password::parse(
        SecretString::from(NEW_PASSWORD),
        &PasswordPolicy::default(),
        None,
    )
    .expect("valid");

    let error = service
        .set_password(&email(), &password)
        .await
        .expect_err("unknown");

    assert!(matches!(error, RecoveryError::UnknownUser), "{error:?}");
}
