//! `MfaChallengeService::verify`, and log-in answering `MfaRequired`.

use std::sync::Arc;

use mockall::predicate::eq;
use secrecy::ExposeSecret as _;
use uuid::Uuid;

use super::tests::{MfaMocks, STEP};
use super::*;
use crate::testing::*;

const MFA_TOKEN: &str = "mfa-token-0123456789abcdefghijklmnopqrstuvw";
const CHALLENGE_ID: Uuid = Uuid::from_u128(0x0401);

fn challenge() -> MfaChallenge {
    MfaChallenge {
        id: CHALLENGE_ID,
        user_id: USER_ID,
        hash: TokenHash::of(MFA_TOKEN),
        created_at: now(),
        expires_at: now() + MFA_TOKEN_TTL,
    }
}

fn service(
    mfa: MfaMocks,
    challenges: MockMfaChallengeRepository,
    base: Mocks,
) -> MfaChallengeService {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    let issuer = SessionIssuer::new(
        Arc::new(base.sessions),
        Arc::new(base.issuer),
        Arc::new(clock),
        Arc::new(base.ids),
        Arc::new(base.secrets),
        settings(),
    );
    MfaChallengeService::new(mfa.ports(), Arc::new(challenges), issuer)
}

fn found(mfa: &mut MfaMocks, challenges: &mut MockMfaChallengeRepository, active: bool) {
    challenges
        .expect_find_valid()
        .withf(|hash, _| *hash == TokenHash::of(MFA_TOKEN))
        .return_once(|_, _| Ok(Some(challenge())));
    mfa.users.expect_find_by_id().return_once(move |_| {
        Ok(Some(User {
            mfa_enabled: true,
            ..user(USER_ID, active)
        }))
    });
}

#[tokio::test]
async fn a_right_code_spends_the_challenge_and_opens_a_session_with_otp() {
    let (mut mfa, mut challenges, mut base) = (
        MfaMocks::new(),
        MockMfaChallengeRepository::new(),
        Mocks::new(),
    );
    found(&mut mfa, &mut challenges, true);
    mfa.expect_factor(Some(FactorState::Enabled));
    mfa.expect_code("123456", true);
    mfa.factors
        .expect_accept_step()
        .with(eq(USER_ID), eq(STEP))
        .times(1)
        .returning(|_, _| Ok(true));
    challenges
        .expect_consume()
        .with(eq(CHALLENGE_ID), eq(now()))
        .times(1)
        .returning(|_, _| Ok(true));
    base.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let (inserted, issued) = base.expect_session_opened(USER_ID);
    let audit = mfa.audit.clone();
    let (user, tokens) = service(mfa, challenges, base)
        .verify(MFA_TOKEN, "123456", client())
        .await
        .expect("verified");
    assert!(user.mfa_enabled);
    // The log-in is recorded once both factors passed, with the session,
    // and never the code.
    assert!(audit.events().is_empty());
    let opened = take(&inserted);
    assert_eq!(
        opened.2.expect("an event is stored with the session"),
        audit_event(
            AuditEventType::LoginSucceeded,
            Some(USER_ID),
            Some(USER_ID),
            client(),
            AuditDetails::new()
                .with("session_id", SESSION_ID.to_string())
                .with("second_factor", true),
        )
    );
    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
    assert_eq!(opened.0.amr, AuthMethods::PasswordAndOtp);
    assert_eq!(take(&issued).amr, AuthMethods::PasswordAndOtp);
}

#[tokio::test]
async fn an_unknown_token_checks_no_code() {
    let (mut mfa, mut challenges, mut base) = (
        MfaMocks::new(),
        MockMfaChallengeRepository::new(),
        Mocks::new(),
    );
    challenges.expect_find_valid().returning(|_, _| Ok(None));
    mfa.codes.expect_matching_step().never();
    base.expect_no_session();
    let result = service(mfa, challenges, base)
        .verify("unknown", "123456", client())
        .await;
    assert!(
        matches!(result, Err(MfaVerifyError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_wrong_code_leaves_the_challenge_unspent() {
    let (mut mfa, mut challenges, mut base) = (
        MfaMocks::new(),
        MockMfaChallengeRepository::new(),
        Mocks::new(),
    );
    found(&mut mfa, &mut challenges, true);
    mfa.expect_factor(Some(FactorState::Enabled));
    mfa.expect_code("000000", false);
    // Claimed for the check, handed back when the code is refused.
    let mut order = mockall::Sequence::new();
    challenges
        .expect_consume()
        .with(eq(CHALLENGE_ID), eq(now()))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(true));
    challenges
        .expect_release()
        .with(eq(CHALLENGE_ID))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(()));
    base.expect_no_session();
    let audit = mfa.audit.clone();
    let result = service(mfa, challenges, base)
        .verify(MFA_TOKEN, "000000", client())
        .await;
    assert!(
        matches!(result, Err(MfaVerifyError::InvalidCode)),
        "{result:?}"
    );
    assert_eq!(
        audit.only(),
        audit_event(
            AuditEventType::MfaChallengeFailed,
            Some(USER_ID),
            Some(USER_ID),
            client(),
            AuditDetails::new(),
        )
    );
}

#[tokio::test]
async fn a_token_another_request_holds_spends_no_code() {
    let (mut mfa, mut challenges, mut base) = (
        MfaMocks::new(),
        MockMfaChallengeRepository::new(),
        Mocks::new(),
    );
    found(&mut mfa, &mut challenges, true);
    mfa.expect_factor(Some(FactorState::Enabled));
    // A concurrent request claimed the token first: no code is looked at,
    // so a recovery code sent with this one is not spent.
    challenges
        .expect_consume()
        .times(1)
        .returning(|_, _| Ok(false));
    challenges.expect_release().never();
    mfa.codes.expect_matching_step().never();
    mfa.factors.expect_accept_step().never();
    base.expect_no_session();
    let result = service(mfa, challenges, base)
        .verify(MFA_TOKEN, "123456", client())
        .await;
    assert!(
        matches!(result, Err(MfaVerifyError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_disabled_account_or_a_reset_factor_gets_no_session() {
    let (mut mfa, mut challenges, mut base) = (
        MfaMocks::new(),
        MockMfaChallengeRepository::new(),
        Mocks::new(),
    );
    found(&mut mfa, &mut challenges, false);
    base.expect_no_session();
    let result = service(mfa, challenges, base)
        .verify(MFA_TOKEN, "123456", client())
        .await;
    assert!(
        matches!(result, Err(MfaVerifyError::AccountDisabled)),
        "{result:?}"
    );

    let (mut mfa, mut challenges, mut base) = (
        MfaMocks::new(),
        MockMfaChallengeRepository::new(),
        Mocks::new(),
    );
    found(&mut mfa, &mut challenges, true);
    mfa.expect_factor(None);
    base.expect_no_session();
    let result = service(mfa, challenges, base)
        .verify(MFA_TOKEN, "123456", client())
        .await;
    assert!(
        matches!(result, Err(MfaVerifyError::InvalidToken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn log_in_with_mfa_on_answers_a_challenge_instead_of_tokens() {
    let mut mocks = Mocks::new();
    let stored = User {
        mfa_enabled: true,
        ..user(USER_ID, true)
    };
    mocks.expect_find_by_email(email(), Some(stored));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.sessions.expect_insert().never();
    mocks.issuer.expect_issue().never();
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_const(MFA_TOKEN.to_owned());
    mocks.ids.expect_new_id().return_const(CHALLENGE_ID);
    mocks
        .challenges
        .expect_insert()
        .withf(|c| {
            c.user_id == USER_ID
                && c.hash == TokenHash::of(MFA_TOKEN)
                && c.expires_at == now() + MFA_TOKEN_TTL
        })
        .times(1)
        .returning(|_| Ok(()));
    let result = mocks
        .service()
        .login(login_command("ada@example.com", PASSWORD))
        .await;
    match result {
        Err(crate::auth::LoginError::MfaRequired { mfa_token }) => {
            assert_eq!(mfa_token.expose_secret(), MFA_TOKEN);
        }
        other => panic!("expected MfaRequired, got {other:?}"),
    }
}
