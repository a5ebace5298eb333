//! Unit tests of the audit trail: the event each use-case emits (type,
//! subject, actor, client, details), that a failed write never fails the
//! request, and reading and purging.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use mockall::predicate::eq;
use secrecy::SecretString;
use uuid::Uuid;

use super::{AuditDetails, AuditEventType, AuditFilter, AuditService, MockAuditLog};
use crate::common::{Page, PageRequest};
use crate::recovery::{ActionToken, TokenPurpose};
use crate::testing::*;
use crate::user::{Password, PasswordPolicy, PasswordVerification, Role, User};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn details() -> AuditDetails {
    AuditDetails::new()
}

fn login_failed(user: Option<UserId>, reason: &str) -> AuditEvent {
    audit_event(
        AuditEventType::LoginFailed,
        user,
        None,
        client(),
        details()
            .with("email", "ada@example.com")
            .with("reason", reason),
    )
}

fn new_password() -> Password {
    Password::parse(
        SecretString::from(NEW_PASSWORD),
        &PasswordPolicy::default(),
        Some(&email()),
    )
    .expect("valid password")
}

fn action_token(purpose: TokenPurpose) -> ActionToken {
    ActionToken {
        id: Uuid::from_u128(0x0501),
        user_id: USER_ID,
        purpose,
        hash: TokenHash::of("mailed"),
        created_at: now() - TimeDelta::minutes(5),
        expires_at: now() + TimeDelta::minutes(55),
    }
}

// ----------------------------------------------------------- sign-up

#[tokio::test]
async fn signup_stores_its_event_with_the_new_user() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0, SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let expected = audit_event(
        AuditEventType::Signup,
        Some(USER_ID),
        Some(USER_ID),
        client(),
        details(),
    );
    mocks
        .users
        .expect_insert()
        .withf(move |user, event| user.id == USER_ID && *event == expected)
        .times(1)
        .returning(|_, _| Ok(()));
    mocks.expect_session_opened(USER_ID);
    let audit = mocks.audit.clone();
    let service = mocks.service();

    service
        .signup(signup_command("ada@example.com"))
        .await
        .expect("signup succeeds");
    assert!(audit.events().is_empty(), "stored with the user, not after");
}

#[tokio::test]
async fn an_operator_created_user_is_recorded_without_actor() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0]);
    let expected = audit_event(
        AuditEventType::Signup,
        Some(USER_ID),
        None,
        ClientInfo::default(),
        details().with("role", "admin"),
    );
    mocks
        .users
        .expect_insert()
        .withf(move |_, event| *event == expected)
        .times(1)
        .returning(|_, _| Ok(()));
    let service = mocks.service();

    service
        .create_user(email(), new_password(), Role::Admin)
        .await
        .expect("created");
}

// ----------------------------------------------------------- log-in

#[tokio::test]
async fn a_successful_login_is_recorded_with_its_session() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let (opened, _) = mocks.expect_session_opened(USER_ID);
    let audit = mocks.audit.clone();
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert!(
        audit.events().is_empty(),
        "stored with the session, not after"
    );
    assert_eq!(
        take(&opened)
            .2
            .expect("an event is stored with the session"),
        audit_event(
            AuditEventType::LoginSucceeded,
            Some(USER_ID),
            Some(USER_ID),
            client(),
            details().with("session_id", SESSION_ID.to_string()),
        )
    );
}

#[tokio::test]
async fn a_wrong_password_is_recorded_as_a_failed_login_without_the_password() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    let audit = mocks.audit.clone();
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("wrong password");

    let event = audit.only();
    assert_eq!(event, login_failed(Some(USER_ID), "wrong_password"));
    assert!(!event.details.to_string().contains(WRONG_PASSWORD));
}

#[tokio::test]
async fn an_unknown_address_is_recorded_as_a_failed_login_about_nobody() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), None);
    mocks.expect_verify(PASSWORD, DUMMY_HASH, PasswordVerification::Mismatch);
    let audit = mocks.audit.clone();
    let service = mocks.service();

    service
        .login(login_command("Ada@Example.com", PASSWORD))
        .await
        .expect_err("unknown");

    assert_eq!(audit.only(), login_failed(None, "unknown_account"));
}

#[tokio::test]
async fn a_disabled_account_is_recorded_as_a_failed_login() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, false)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    let audit = mocks.audit.clone();
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("disabled");

    assert_eq!(
        audit.only(),
        login_failed(Some(USER_ID), "account_disabled")
    );
}

#[tokio::test]
async fn a_login_past_the_limits_is_recorded_as_rate_limited() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.hasher.expect_verify().never();
    let mut limiter = MockRateLimiter::new();
    expect_hits(&mut limiter, |_, window, now| {
        Ok(WindowCount {
            count: 1_000,
            resets_at: now + window,
        })
    });
    limiter.expect_release().returning(|_| Ok(()));
    let audit = mocks.audit.clone();
    let service = mocks.service_limited(limiter, LoginLimits::default());

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("limited");

    assert_eq!(
        audit.only(),
        audit_event(
            AuditEventType::LoginRateLimited,
            Some(USER_ID),
            None,
            client(),
            details()
                .with("email", "ada@example.com")
                .with("retry_after_secs", 900_i64),
        )
    );
}

#[tokio::test]
async fn a_failed_audit_write_does_not_fail_the_login() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let (opened, _) = mocks.expect_session_opened(USER_ID);
    mocks.audit.failing.store(true, Ordering::SeqCst);
    let audit = mocks.audit.clone();
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("the login stands");
    // The log-in's own event does not depend on the log: it is stored with
    // the session, in the same write.
    assert!(audit.kinds().is_empty());
    assert_eq!(
        take(&opened).2.map(|event| event.kind),
        Some(AuditEventType::LoginSucceeded)
    );
}

// ----------------------------------------------------------- sessions

#[tokio::test]
async fn logout_is_recorded_by_the_user() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke()
        .with(eq(USER_ID), eq(SESSION_ID), eq(now()))
        .times(1)
        .returning(|_, _, _| Ok(true));
    let audit = mocks.audit.clone();
    let service = mocks.sessions_service();

    service
        .logout(USER_ID, SESSION_ID, &client())
        .await
        .expect("logged out");

    assert_eq!(
        audit.only(),
        audit_event(
            AuditEventType::Logout,
            Some(USER_ID),
            Some(USER_ID),
            client(),
            details().with("session_id", SESSION_ID.to_string()),
        )
    );
}

#[tokio::test]
async fn revoking_one_session_is_recorded() {
    let mut mocks = Mocks::new();
    mocks.expect_find_session(Some((session(SESSION_ID, USER_ID), user(USER_ID, true))));
    mocks
        .sessions
        .expect_revoke()
        .times(1)
        .returning(|_, _, _| Ok(true));
    let audit = mocks.audit.clone();
    let service = mocks.sessions_service();

    service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect("revoked");

    assert_eq!(
        audit.only(),
        audit_event(
            AuditEventType::SessionRevoked,
            Some(USER_ID),
            Some(USER_ID),
            client(),
            details().with("session_id", SESSION_ID.to_string()),
        )
    );
}

#[tokio::test]
async fn revoking_an_unknown_session_records_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_find_session(None);
    let audit = mocks.audit.clone();
    let service = mocks.sessions_service();

    service
        .revoke_session(USER_ID, SESSION_ID, &client())
        .await
        .expect_err("not found");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn revoking_every_session_is_recorded_with_the_count() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_revoke_all()
        .times(1)
        .returning(|_, _| Ok(3));
    let audit = mocks.audit.clone();
    let service = mocks.sessions_service();

    service
        .revoke_all_sessions(USER_ID, &client())
        .await
        .expect("revoked");

    assert_eq!(
        audit.only(),
        audit_event(
            AuditEventType::SessionRevoked,
            Some(USER_ID),
            Some(USER_ID),
            client(),
            details().with("all", true).with("count", 3_i64),
        )
    );
}

#[tokio::test]
async fn refresh_token_reuse_is_recorded_against_the_presenter() {
    let mut mocks = Mocks::new();
    let rotated_at = now() - settings().refresh_reuse_grace - TimeDelta::seconds(1);
    let mut token = RefreshToken {
        id: REFRESH_TOKEN_ID,
        session_id: SESSION_ID,
        hash: TokenHash::of(REFRESH_TOKEN),
        created_at: now() - TimeDelta::hours(1),
        expires_at: now() + TimeDelta::days(1),
        rotated_at: None,
    };
    token.rotated_at = Some(rotated_at);
    mocks
        .sessions
        .expect_rotate_live()
        .returning(|_, _, _| Ok(None));
    mocks
        .sessions
        .expect_find_refresh_token()
        .returning(move |_| {
            Ok(Some((
                token.clone(),
                session(SESSION_ID, USER_ID),
                user(USER_ID, true),
            )))
        });
    mocks
        .sessions
        .expect_revoke()
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks
        .secrets
        .expect_generate()
        .returning(|| "unused-replacement".to_owned());
    mocks
        .ids
        .expect_new_id()
        .return_const(Uuid::from_u128(0x0601));
    let audit = mocks.audit.clone();
    let service = mocks.sessions_service();
    let thief = client_at("203.0.113.9");

    service
        .refresh(REFRESH_TOKEN, &thief)
        .await
        .expect_err("reuse");

    let event = audit.only();
    assert_eq!(
        event,
        audit_event(
            AuditEventType::RefreshReuseDetected,
            Some(USER_ID),
            None,
            thief,
            details().with("session_id", SESSION_ID.to_string()),
        )
    );
    assert!(!event.details.to_string().contains(REFRESH_TOKEN));
}

// ----------------------------------------------------------- account

#[tokio::test]
async fn a_password_change_stores_its_event_with_the_new_hash() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    let expected = audit_event(
        AuditEventType::PasswordChanged,
        Some(USER_ID),
        Some(USER_ID),
        client(),
        details(),
    );
    mocks
        .users
        .expect_update_password_hash()
        .withf(move |id, hash, _, event, _| {
            *id == USER_ID && hash.as_str() == NEW_HASH && event.as_ref() == Some(&expected)
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(Some(0)));
    mocks
        .sessions
        .expect_revoke_all_except()
        .returning(|_, _, _| Ok(1));
    let mut tokens = MockActionTokenRepository::new();
    tokens.expect_invalidate().returning(|_, _, _| Ok(0));
    let audit = mocks.audit.clone();
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
        .expect("changed");
    assert!(audit.events().is_empty(), "stored with the hash, not after");
}

#[tokio::test]
async fn a_deletion_stores_its_event_in_the_deletion() {
    let mut mocks = Mocks::new();
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    let expected = audit_event(
        AuditEventType::AccountDeleted,
        Some(USER_ID),
        Some(USER_ID),
        client(),
        details().with("email", "ada@example.com"),
    );
    mocks
        .users
        .expect_delete()
        .withf(move |id, event| *id == USER_ID && *event == expected)
        .times(1)
        .returning(|_, _| Ok(true));
    let service = mocks.account_service(None);

    service
        .delete_account(
            &user(USER_ID, true),
            &client(),
            &SecretString::from(PASSWORD),
        )
        .await
        .expect("deleted");
}

// ----------------------------------------------------------- recovery

fn mail_settings() -> MailSettings {
    MailSettings::default()
}

#[tokio::test]
async fn an_email_verification_stores_its_event_with_the_flag() {
    let mocks = Mocks::new();
    let mut users = mocks.users;
    users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(USER_ID, true))));
    let expected = audit_event(
        AuditEventType::EmailVerified,
        Some(USER_ID),
        Some(USER_ID),
        client(),
        details(),
    );
    users
        .expect_set_email_verified()
        .withf(move |id, _, event| *id == USER_ID && *event == expected)
        .times(1)
        .returning(|_, _, _| Ok(true));
    let mocks = Mocks {
        users,
        ..Mocks::new()
    };
    let mut tokens = MockActionTokenRepository::new();
    tokens
        .expect_find_valid()
        .returning(|_, _, _| Ok(Some(action_token(TokenPurpose::VerifyEmail))));
    tokens.expect_consume().returning(|_, _| Ok(true));
    let service = mocks.recovery_service(
        tokens,
        MockMailer::new(),
        permissive_limiter(),
        mail_settings(),
    );

    service
        .verify_email("mailed", &client())
        .await
        .expect("verified");
}

fn forgot_mocks(limiter: MockRateLimiter, mails: usize) -> (AuditSink, RecoveryService) {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks
        .secrets
        .expect_generate()
        .times(mails)
        .returning(|| "mailed-secret".to_owned());
    mocks
        .ids
        .expect_new_id()
        .times(mails)
        .return_const(Uuid::from_u128(0x0701));
    let mut tokens = MockActionTokenRepository::new();
    tokens.expect_insert().times(mails).returning(|_| Ok(()));
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(mails).returning(|_| Ok(()));
    let audit = mocks.audit.clone();
    (
        audit,
        mocks.recovery_service(tokens, mailer, limiter, mail_settings()),
    )
}

#[tokio::test]
async fn a_reset_request_is_recorded_without_the_token() {
    let (audit, service) = forgot_mocks(permissive_limiter(), 1);

    service
        .forgot_password("ada@example.com", &client())
        .await
        .expect("accepted");

    let event = audit.only();
    assert_eq!(
        event,
        audit_event(
            AuditEventType::PasswordResetRequested,
            Some(USER_ID),
            None,
            client(),
            details().with("mail_sent", true),
        )
    );
    assert!(!event.details.to_string().contains("mailed-secret"));
}

#[tokio::test]
async fn a_throttled_reset_request_is_recorded_as_not_mailed() {
    let mut limiter = MockRateLimiter::new();
    limiter.expect_hit().returning(|_, window, now| {
        Ok(WindowCount {
            count: 99,
            resets_at: now + window,
        })
    });
    let (audit, service) = forgot_mocks(limiter, 0);

    service
        .forgot_password("ada@example.com", &client())
        .await
        .expect("accepted");

    assert_eq!(audit.only().details, details().with("mail_sent", false));
}

#[tokio::test]
async fn a_reset_request_for_an_unknown_address_records_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), None);
    let audit = mocks.audit.clone();
    let service = mocks.recovery_service(
        MockActionTokenRepository::new(),
        MockMailer::new(),
        permissive_limiter(),
        mail_settings(),
    );

    service
        .forgot_password("ada@example.com", &client())
        .await
        .expect("accepted");
    assert!(audit.events().is_empty());
}

#[tokio::test]
async fn a_reset_stores_its_event_with_the_new_hash() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(USER_ID, true))));
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    let expected = audit_event(
        AuditEventType::PasswordReset,
        Some(USER_ID),
        Some(USER_ID),
        client(),
        details(),
    );
    mocks
        .users
        .expect_update_password_hash()
        .withf(move |_, _, _, event, _| event.as_ref() == Some(&expected))
        .times(1)
        .returning(|_, _, _, _, _| Ok(Some(0)));
    mocks.sessions.expect_revoke_all().returning(|_, _| Ok(2));
    let mut tokens = MockActionTokenRepository::new();
    tokens
        .expect_find_valid()
        .returning(|_, _, _| Ok(Some(action_token(TokenPurpose::ResetPassword))));
    tokens.expect_consume().returning(|_, _| Ok(true));
    tokens.expect_invalidate().returning(|_, _, _| Ok(0));
    let service = mocks.recovery_service(
        tokens,
        MockMailer::new(),
        permissive_limiter(),
        mail_settings(),
    );

    service
        .reset_password(
            "mailed",
            SecretString::from(NEW_PASSWORD),
            &PasswordPolicy::default(),
            &client(),
        )
        .await
        .expect("reset");
}

#[tokio::test]
async fn an_operator_set_password_is_recorded_without_actor() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    let expected = audit_event(
        AuditEventType::PasswordChanged,
        Some(USER_ID),
        None,
        ClientInfo::default(),
        details().with("by", "operator"),
    );
    mocks
        .users
        .expect_update_password_hash()
        .withf(move |_, _, _, event, _| event.as_ref() == Some(&expected))
        .times(1)
        .returning(|_, _, _, _, _| Ok(Some(0)));
    mocks.sessions.expect_revoke_all().returning(|_, _| Ok(0));
    let mut tokens = MockActionTokenRepository::new();
    tokens.expect_invalidate().returning(|_, _, _| Ok(0));
    let service = mocks.recovery_service(
        tokens,
        MockMailer::new(),
        permissive_limiter(),
        mail_settings(),
    );

    service
        .set_password(&email(), &new_password())
        .await
        .expect("set");
}

// ----------------------------------------------------------- the model

#[test]
fn access_changes_name_each_changed_field_from_and_to() {
    let before = user(USER_ID, true);
    let after = User {
        role: Role::Admin,
        is_active: false,
        ..before.clone()
    };
    let changes = AuditDetails::access_changes(&before, &after);
    assert_eq!(
        changes.to_string(),
        r#"{"is_active":{"from":true,"to":false},"role":{"from":"user","to":"admin"}}"#
    );
    assert!(AuditDetails::access_changes(&before, &before).is_empty());
}

#[test]
fn details_render_as_escaped_json() {
    let details = details()
        .with("email", "a\"b\\c\n\u{1}")
        .with("count", -3_i64);
    assert_eq!(
        details.to_string(),
        r#"{"count":-3,"email":"a\"b\\c\n\u0001"}"#
    );
}

#[test]
fn every_type_round_trips_through_its_name() {
    for kind in AuditEventType::ALL {
        assert_eq!(kind.as_str().parse::<AuditEventType>(), Ok(kind));
    }
    assert!("LOGOUT".parse::<AuditEventType>().is_err());
}

// ----------------------------------------------------------- reading, purging

fn audit_service(log: MockAuditLog, retention: Option<TimeDelta>) -> AuditService {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    AuditService::new(Arc::new(log), Arc::new(clock), retention)
}

#[tokio::test]
async fn the_purge_deletes_what_is_older_than_the_retention() {
    let mut log = MockAuditLog::new();
    log.expect_purge()
        .with(eq(now() - TimeDelta::days(90)))
        .times(1)
        .returning(|_| Ok(4));
    let purged = audit_service(log, Some(TimeDelta::days(90)))
        .purge()
        .await
        .expect("purged");
    assert_eq!(purged, 4);
}

#[tokio::test]
async fn without_retention_nothing_is_purged() {
    for retention in [None, Some(TimeDelta::MAX)] {
        let mut log = MockAuditLog::new();
        log.expect_purge().never();
        assert_eq!(audit_service(log, retention).purge().await.expect("ok"), 0);
    }
}

#[tokio::test]
async fn a_user_reads_only_the_events_about_them() {
    let mut log = MockAuditLog::new();
    let page = PageRequest {
        limit: 5,
        after: None,
    };
    log.expect_list()
        .with(
            eq(AuditFilter {
                user_id: Some(USER_ID),
                kind: None,
            }),
            eq(page),
        )
        .times(1)
        .returning(|_, _| {
            Ok(Page {
                items: Vec::new(),
                next: None,
            })
        });
    audit_service(log, None)
        .list_own(USER_ID, page)
        .await
        .expect("listed");
}
