//! Unit tests of e-mail verification, and the fixtures the reset tests
//! (`tests_reset.rs`) share: every port mocked, time set through the mocked
//! clock.
//!
//! As in `tests.rs`, a mock method without an expectation panics when called,
//! and `times(..)` are checked when the service is dropped.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use mockall::Sequence;
use mockall::predicate::{always, eq};
use uuid::Uuid;

use super::{
    ActionToken, MailLinks, RecoveryError, RecoveryService, TokenPurpose, VERIFY_EMAIL_TTL,
};
use crate::common::TokenHash;
use crate::mail::{MailError, OutgoingMail};
use crate::testing::*;
use crate::user::User;

/// The token the service generates and mails.
pub(super) const MAILED_TOKEN: &str = "mAiLeD_tOkEn-0123456789abcdefghijklmnopqrstu";
/// The token a client presents back.
pub(super) const PRESENTED: &str = "pReSeNtEd_mAiL_tOkEn-0123456789abcdefghijkl";
pub(super) const ACTION_TOKEN_ID: Uuid = Uuid::from_u128(0x0401);
pub(super) const NEW_PASSWORD: &str = "a fresh and unusual passphrase";

/// Not the defaults, so that a test notices when the service ignores them.
pub(super) fn links() -> MailLinks {
    MailLinks {
        verify_url: "https://app.example.test/confirm/{token}?from=mail".into(),
        reset_url: "https://app.example.test/reset#token={token}".into(),
    }
}

/// An instant away from `now()`, so that a test notices a time not taken
/// from the clock.
pub(super) fn later() -> DateTime<Utc> {
    now() + TimeDelta::days(3) + TimeDelta::minutes(7)
}

/// A user whose address is not verified yet.
pub(super) fn unverified() -> User {
    User {
        email_verified: false,
        ..user(USER_ID, true)
    }
}

/// The stored, valid token `PRESENTED` stands for, issued a minute before
/// `at`.
pub(super) fn stored(purpose: TokenPurpose, at: DateTime<Utc>) -> ActionToken {
    let created_at = at - TimeDelta::minutes(1);
    ActionToken {
        id: ACTION_TOKEN_ID,
        user_id: USER_ID,
        purpose,
        hash: TokenHash::of(PRESENTED),
        created_at,
        expires_at: created_at + TimeDelta::hours(1),
    }
}

/// The mocked ports of the mail flows, next to the others.
pub(super) struct MailMocks {
    pub(super) mocks: Mocks,
    pub(super) mailer: MockMailer,
    pub(super) tokens: MockActionTokenRepository,
}

impl MailMocks {
    /// The clock says `at`.
    pub(super) fn at(at: DateTime<Utc>) -> Self {
        let mut mocks = Mocks::new();
        mocks.now = at;
        Self {
            mocks,
            mailer: MockMailer::new(),
            tokens: MockActionTokenRepository::new(),
        }
    }

    /// The service, with a mail allowance no test of it reaches.
    pub(super) fn service(self) -> RecoveryService {
        self.service_limited(permissive_limiter(), 1_000)
    }

    /// The service, counting mails per address with `limiter`.
    pub(super) fn service_limited(
        self,
        limiter: MockRateLimiter,
        per_hour: u64,
    ) -> RecoveryService {
        self.mocks.recovery_service(
            self.tokens,
            self.mailer,
            limiter,
            MailSettings {
                links: links(),
                per_address_per_hour: per_hour,
            },
        )
    }

    /// One token (`MAILED_TOKEN`, `ACTION_TOKEN_ID`) is generated and stored;
    /// returns what was stored.
    pub(super) fn expect_token_issued(&mut self) -> Captured<ActionToken> {
        self.mocks
            .secrets
            .expect_generate()
            .times(1)
            .return_once(|| MAILED_TOKEN.to_owned());
        self.mocks.expect_ids(&[ACTION_TOKEN_ID]);
        let inserted = Captured::default();
        let sink = Arc::clone(&inserted);
        self.tokens
            .expect_insert()
            .times(1)
            .returning(move |token| {
                *sink.lock().expect("lock not poisoned") = Some(token.clone());
                Ok(())
            });
        inserted
    }

    /// One mail is handed to the mailer; returns it.
    pub(super) fn expect_mail_sent(&mut self) -> Captured<OutgoingMail> {
        let sent = Captured::default();
        let sink = Arc::clone(&sent);
        self.mailer.expect_send().times(1).returning(move |mail| {
            *sink.lock().expect("lock not poisoned") = Some(mail);
            Ok(())
        });
        sent
    }

    /// No token is generated or stored and no mail sent.
    pub(super) fn expect_nothing_sent(&mut self) {
        self.mocks.secrets.expect_generate().never();
        self.mocks.ids.expect_new_id().never();
        self.tokens.expect_insert().never();
        self.mailer.expect_send().never();
    }

    /// The token store is asked once for the hash of `PRESENTED` with this
    /// purpose at `at`, and answers `found`.
    pub(super) fn expect_find_valid(
        &mut self,
        purpose: TokenPurpose,
        at: DateTime<Utc>,
        found: Option<ActionToken>,
    ) {
        self.tokens
            .expect_find_valid()
            .with(eq(TokenHash::of(PRESENTED)), eq(purpose), eq(at))
            .times(1)
            .return_once(move |_, _, _| Ok(found));
    }

    /// The token's owner is looked up once, and is active or not.
    pub(super) fn expect_owner(&mut self, is_active: bool) {
        self.mocks
            .users
            .expect_find_by_id()
            .with(eq(USER_ID))
            .times(1)
            .return_once(move |_| Ok(Some(user(USER_ID, is_active))));
    }

    /// No password is hashed or stored and no session revoked.
    pub(super) fn expect_no_password_change(&mut self) {
        self.mocks.hasher.expect_hash().never();
        self.mocks.users.expect_update_password_hash().never();
        self.mocks.sessions.expect_revoke_all().never();
        self.mocks.sessions.expect_revoke_all_except().never();
    }
}

/// The token in a mailed link built from `template`.
pub(super) fn token_in(text: &str, template: &str) -> String {
    let (before, after) = template
        .split_once("{token}")
        .expect("the template has a placeholder");
    let start = text.find(before).expect("the mail holds the link") + before.len();
    let rest = &text[start..];
    let end = if after.is_empty() {
        rest.find(char::is_whitespace).unwrap_or(rest.len())
    } else {
        rest.find(after).expect("the link is whole")
    };
    rest[..end].to_owned()
}

pub(super) fn mail_error() -> MailError {
    MailError(anyhow::anyhow!("connection to the relay refused"))
}

// ------------------------------------------------- request_email_verification

#[tokio::test]
async fn request_email_verification_stores_a_token_and_mails_its_link() {
    let mut m = MailMocks::at(later());
    let inserted = m.expect_token_issued();
    let sent = m.expect_mail_sent();
    let service = m.service();

    service
        .request_email_verification(&unverified())
        .await
        .expect("mail sent");

    let token = take(&inserted);
    let mail = take(&sent);
    assert_eq!(token.id, ACTION_TOKEN_ID);
    assert_eq!(token.user_id, USER_ID);
    assert_eq!(token.purpose, TokenPurpose::VerifyEmail);
    assert_eq!(token.created_at, later());
    assert_eq!(token.expires_at, later() + TimeDelta::hours(24));
    assert_eq!(VERIFY_EMAIL_TTL, TimeDelta::hours(24));
    assert_eq!(mail.to, email());
    let link = links().verify_url.replace("{token}", MAILED_TOKEN);
    assert!(mail.text.contains(&link), "{}", mail.text);
    assert!(!mail.text.contains("{token}"), "{}", mail.text);
    let mailed = token_in(&mail.text, &links().verify_url);
    assert_eq!(mailed, MAILED_TOKEN);
    assert_eq!(token.hash, TokenHash::of(&mailed));
    assert_ne!(token.hash.as_str(), mailed);
}

#[tokio::test]
async fn request_email_verification_of_a_verified_user_sends_nothing() {
    let mut m = MailMocks::at(later());
    m.expect_nothing_sent();
    let service = m.service();

    service
        .request_email_verification(&user(USER_ID, true))
        .await
        .expect("nothing to do");
}

#[tokio::test]
async fn request_email_verification_when_the_mailer_fails_is_unavailable() {
    let mut m = MailMocks::at(later());
    let _ = m.expect_token_issued();
    m.mailer
        .expect_send()
        .times(1)
        .return_once(|_| Err(mail_error()));
    let service = m.service();

    let error = service
        .request_email_verification(&unverified())
        .await
        .expect_err("mailer down");

    assert!(matches!(error, RecoveryError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn request_email_verification_when_storage_fails_sends_nothing() {
    let mut m = MailMocks::at(later());
    m.mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| MAILED_TOKEN.to_owned());
    m.mocks.expect_ids(&[ACTION_TOKEN_ID]);
    m.tokens
        .expect_insert()
        .times(1)
        .return_once(|_| Err(unavailable()));
    m.mailer.expect_send().never();
    let service = m.service();

    let error = service
        .request_email_verification(&unverified())
        .await
        .expect_err("storage down");

    assert!(matches!(error, RecoveryError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn verify_email_consumes_the_token_then_marks_the_address_verified() {
    let at = later();
    let mut m = MailMocks::at(at);
    let mut sequence = Sequence::new();
    m.tokens
        .expect_find_valid()
        .with(
            eq(TokenHash::of(PRESENTED)),
            eq(TokenPurpose::VerifyEmail),
            eq(at),
        )
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(move |_, _, _| Ok(Some(stored(TokenPurpose::VerifyEmail, at))));
    m.mocks
        .users
        .expect_find_by_id()
        .with(eq(USER_ID))
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_| Ok(Some(unverified())));
    m.tokens
        .expect_consume()
        .with(eq(ACTION_TOKEN_ID), eq(at))
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _| Ok(true));
    m.mocks
        .users
        .expect_set_email_verified()
        .with(eq(USER_ID), eq(at), always())
        .times(1)
        .in_sequence(&mut sequence)
        .return_once(|_, _, _| Ok(true));
    let service = m.service();

    service
        .verify_email(PRESENTED, &client())
        .await
        .expect("verified");
}

#[tokio::test]
async fn verify_email_with_an_unknown_or_expired_token_is_invalid() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(TokenPurpose::VerifyEmail, later(), None);
    m.tokens.expect_consume().never();
    m.mocks.users.expect_set_email_verified().never();
    let service = m.service();

    let error = service
        .verify_email(PRESENTED, &client())
        .await
        .expect_err("invalid token");

    assert!(matches!(error, RecoveryError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn verify_email_with_a_token_consumed_meanwhile_is_invalid() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::VerifyEmail,
        later(),
        Some(stored(TokenPurpose::VerifyEmail, later())),
    );
    m.expect_owner(true);
    m.tokens
        .expect_consume()
        .times(1)
        .return_once(|_, _| Ok(false));
    m.mocks.users.expect_set_email_verified().never();
    let service = m.service();

    let error = service
        .verify_email(PRESENTED, &client())
        .await
        .expect_err("raced");

    assert!(matches!(error, RecoveryError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn verify_email_of_a_vanished_user_is_invalid() {
    let mut m = MailMocks::at(later());
    m.expect_find_valid(
        TokenPurpose::VerifyEmail,
        later(),
        Some(stored(TokenPurpose::VerifyEmail, later())),
    );
    m.expect_owner(true);
    m.tokens
        .expect_consume()
        .times(1)
        .return_once(|_, _| Ok(true));
    m.mocks
        .users
        .expect_set_email_verified()
        .times(1)
        .return_once(|_, _, _| Ok(false));
    let service = m.service();

    let error = service
        .verify_email(PRESENTED, &client())
        .await
        .expect_err("user gone");

    assert!(matches!(error, RecoveryError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn verify_email_when_storage_is_unavailable_is_unavailable() {
    let mut m = MailMocks::at(later());
    m.tokens
        .expect_find_valid()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    m.tokens.expect_consume().never();
    let service = m.service();

    let error = service
        .verify_email(PRESENTED, &client())
        .await
        .expect_err("storage down");

    assert!(matches!(error, RecoveryError::Unavailable(_)), "{error:?}");
}
