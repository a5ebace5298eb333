//! `MfaService`: enrolment, confirmation, removal, recovery codes, reset.

use std::sync::Arc;

use mockall::predicate::eq;
use secrecy::{ExposeSecret as _, SecretString};

use super::*;
use crate::audit::Origin;
use crate::testing::*;

pub(super) const SEALED: &str = "v1.sealed";
pub(super) const STEP: u64 = 1000;

/// The mocked ports of the MFA use-cases.
pub(super) struct MfaMocks {
    pub(super) users: MockUserRepository,
    pub(super) factors: MockSecondFactorRepository,
    pub(super) sessions: MockSessionRepository,
    pub(super) codes: MockOneTimeCodes,
    pub(super) cipher: MockSecretCipher,
    pub(super) hasher: MockPasswordHasher,
    pub(super) limiter: MockRateLimiter,
    pub(super) audit: AuditSink,
}

impl MfaMocks {
    pub(super) fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            factors: MockSecondFactorRepository::new(),
            sessions: MockSessionRepository::new(),
            codes: MockOneTimeCodes::new(),
            cipher: MockSecretCipher::new(),
            hasher: MockPasswordHasher::new(),
            limiter: permissive_limiter(),
            audit: AuditSink::default(),
        }
    }

    pub(super) fn ports(self) -> MfaPorts {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(now());
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let hasher: Arc<dyn PasswordHasher> = Arc::new(self.hasher);
        MfaPorts {
            users: Arc::new(self.users),
            factors: Arc::new(self.factors),
            sessions: Arc::new(self.sessions),
            codes: Arc::new(self.codes),
            cipher: Arc::new(self.cipher),
            guard: PasswordGuard::new(
                hasher,
                Arc::new(self.limiter),
                LoginLimits::default(),
                clock.clone(),
            ),
            audit: self.audit.auditor(clock.clone()),
            clock,
        }
    }

    fn service(self) -> MfaService {
        MfaService::new(self.ports(), "Auth Module".into())
    }

    pub(super) fn expect_password(&mut self, right: bool) {
        let outcome = if right {
            PasswordVerification::Match {
                needs_rehash: false,
            }
        } else {
            PasswordVerification::Mismatch
        };
        self.hasher
            .expect_verify()
            .times(1)
            .return_once(move |_, _| Ok(outcome));
    }

    pub(super) fn expect_factor(&mut self, state: Option<FactorState>) {
        self.factors
            .expect_find()
            .with(eq(USER_ID))
            .return_once(move |_| Ok(state.map(factor)));
    }

    /// The sealed secret opens, and `code` is (or is not) the code of `STEP`.
    pub(super) fn expect_code(&mut self, code: &'static str, matches: bool) {
        self.cipher
            .expect_open()
            .returning(|_, _| Ok(TotpSecret::new(vec![1; 20])));
        self.codes
            .expect_matching_step()
            .withf(move |_, c, _| c == code)
            .times(1)
            .return_const(matches.then_some(STEP));
    }

    pub(super) fn expect_recovery_codes(&mut self) {
        let mut n = 0;
        self.codes
            .expect_new_recovery_code()
            .times(RECOVERY_CODE_COUNT)
            .returning(move || {
                n += 1;
                SecretString::from(format!("code-{n:02}"))
            });
    }
}

pub(super) fn factor(state: FactorState) -> SecondFactor {
    SecondFactor {
        user_id: USER_ID,
        secret: SealedSecret::from_stored(SEALED.into()),
        state,
        last_step: None,
        created_at: now(),
    }
}

fn mfa_user(enabled: bool) -> User {
    User {
        mfa_enabled: enabled,
        ..user(USER_ID, true)
    }
}

/// An administrator acting from the tests' client.
fn admin() -> Origin {
    Origin::user(OTHER_USER_ID, client())
}

fn password() -> SecretString {
    SecretString::from(PASSWORD)
}

#[tokio::test]
async fn enrolment_seals_a_fresh_secret_and_returns_its_uri() {
    let mut mocks = MfaMocks::new();
    mocks.expect_password(true);
    mocks
        .codes
        .expect_new_secret()
        .times(1)
        .returning(|| TotpSecret::new(vec![1; 20]));
    mocks
        .cipher
        .expect_seal()
        .withf(|user, secret| *user == USER_ID && secret.expose() == [1; 20])
        .times(1)
        .returning(|_, _| Ok(SealedSecret::from_stored(SEALED.into())));
    mocks
        .factors
        .expect_start_enrolment()
        .withf(|user, sealed, _| *user == USER_ID && sealed.as_str() == SEALED)
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks
        .codes
        .expect_encode()
        .return_const(SecretString::from("AEBAGBAF"));
    mocks
        .codes
        .expect_otpauth_uri()
        .withf(|_, issuer, account| issuer == "Auth Module" && account == "ada@example.com")
        .returning(|_, _, _| SecretString::from("otpauth://totp/x"));
    let enrolment = mocks
        .service()
        .start_enrolment(&mfa_user(false), &ClientInfo::default(), &password())
        .await
        .expect("enrolled");
    assert_eq!(enrolment.secret.expose_secret(), "AEBAGBAF");
    assert_eq!(enrolment.otpauth_uri.expose_secret(), "otpauth://totp/x");
}

#[tokio::test]
async fn enrolment_refuses_a_wrong_password_and_an_enabled_factor() {
    let mut mocks = MfaMocks::new();
    mocks.expect_password(false);
    mocks.factors.expect_start_enrolment().never();
    let result = mocks
        .service()
        .start_enrolment(&mfa_user(false), &ClientInfo::default(), &password())
        .await;
    assert!(matches!(result, Err(MfaError::WrongPassword)), "{result:?}");

    let mut mocks = MfaMocks::new();
    mocks.hasher.expect_verify().never();
    let result = mocks
        .service()
        .start_enrolment(&mfa_user(true), &ClientInfo::default(), &password())
        .await;
    assert!(
        matches!(result, Err(MfaError::AlreadyEnabled)),
        "{result:?}"
    );

    // Enabled by a concurrent confirmation after the user was read.
    let mut mocks = MfaMocks::new();
    mocks.expect_password(true);
    mocks
        .codes
        .expect_new_secret()
        .returning(|| TotpSecret::new(vec![1; 20]));
    mocks
        .cipher
        .expect_seal()
        .returning(|_, _| Ok(SealedSecret::from_stored(SEALED.into())));
    mocks
        .factors
        .expect_start_enrolment()
        .returning(|_, _, _| Ok(false));
    let result = mocks
        .service()
        .start_enrolment(&mfa_user(false), &ClientInfo::default(), &password())
        .await;
    assert!(
        matches!(result, Err(MfaError::AlreadyEnabled)),
        "{result:?}"
    );
}

#[tokio::test]
async fn confirmation_turns_mfa_on_and_ends_the_other_sessions() {
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Pending));
    mocks.expect_code("123456", true);
    mocks.expect_recovery_codes();
    mocks
        .factors
        .expect_enable()
        .withf(|user, sealed, step, codes, _, event| {
            *user == USER_ID
                && *event
                    == audit_event(
                        AuditEventType::MfaEnabled,
                        Some(USER_ID),
                        Some(USER_ID),
                        client(),
                        AuditDetails::new().with("method", "totp"),
                    )
                && sealed.as_str() == SEALED
                && *step == STEP
                && codes.len() == RECOVERY_CODE_COUNT
                && codes[0] == TokenHash::of("code01")
        })
        .times(1)
        .returning(|_, _, _, _, _, _| Ok(true));
    mocks
        .sessions
        .expect_revoke_all_except()
        .with(eq(USER_ID), eq(SESSION_ID), eq(now()))
        .times(1)
        .returning(|_, _, _| Ok(2));
    let codes = mocks
        .service()
        .confirm(&mfa_user(false), SESSION_ID, &client(), "123456")
        .await
        .expect("confirmed");
    assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
    assert_eq!(codes[0].expose_secret(), "code-01");
}

#[tokio::test]
async fn confirmation_refuses_a_wrong_code_no_enrolment_and_a_lost_race() {
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Pending));
    mocks.expect_code("000000", false);
    mocks.expect_recovery_codes();
    mocks.factors.expect_enable().never();
    mocks.sessions.expect_revoke_all_except().never();
    let result = mocks
        .service()
        .confirm(&mfa_user(false), SESSION_ID, &client(), "000000")
        .await;
    assert!(matches!(result, Err(MfaError::InvalidCode)), "{result:?}");

    let mut mocks = MfaMocks::new();
    mocks.expect_factor(None);
    let result = mocks
        .service()
        .confirm(&mfa_user(false), SESSION_ID, &client(), "123456")
        .await;
    assert!(matches!(result, Err(MfaError::NotEnabled)), "{result:?}");

    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Enabled));
    let result = mocks
        .service()
        .confirm(&mfa_user(true), SESSION_ID, &client(), "123456")
        .await;
    assert!(
        matches!(result, Err(MfaError::AlreadyEnabled)),
        "{result:?}"
    );

    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Pending));
    mocks.expect_code("123456", true);
    mocks.expect_recovery_codes();
    mocks
        .factors
        .expect_enable()
        .returning(|_, _, _, _, _, _| Ok(false));
    mocks.sessions.expect_revoke_all_except().never();
    let result = mocks
        .service()
        .confirm(&mfa_user(false), SESSION_ID, &client(), "123456")
        .await;
    assert!(
        matches!(result, Err(MfaError::AlreadyEnabled)),
        "{result:?}"
    );
}

#[tokio::test]
async fn removal_needs_the_password_then_an_unused_code() {
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Enabled));
    mocks.expect_password(true);
    mocks.expect_code("123456", true);
    mocks
        .factors
        .expect_accept_step()
        .with(eq(USER_ID), eq(STEP))
        .times(1)
        .returning(|_, _| Ok(true));
    mocks
        .factors
        .expect_disable()
        .withf(|user, _, event| {
            *user == USER_ID
                && *event
                    == audit_event(
                        AuditEventType::MfaDisabled,
                        Some(USER_ID),
                        Some(USER_ID),
                        client(),
                        AuditDetails::new().with("by", "user"),
                    )
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks
        .service()
        .disable(&mfa_user(true), &client(), &password(), "123456")
        .await
        .expect("removed");

    // A replayed step is refused.
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Enabled));
    mocks.expect_password(true);
    mocks.expect_code("123456", true);
    mocks
        .factors
        .expect_accept_step()
        .returning(|_, _| Ok(false));
    mocks.factors.expect_disable().never();
    let result = mocks
        .service()
        .disable(&mfa_user(true), &client(), &password(), "123456")
        .await;
    assert!(matches!(result, Err(MfaError::InvalidCode)), "{result:?}");

    // A wrong password: no code checked.
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Enabled));
    mocks.expect_password(false);
    mocks.codes.expect_matching_step().never();
    mocks.factors.expect_disable().never();
    let result = mocks
        .service()
        .disable(&mfa_user(true), &client(), &password(), "123456")
        .await;
    assert!(matches!(result, Err(MfaError::WrongPassword)), "{result:?}");

    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Pending));
    mocks.hasher.expect_verify().never();
    let result = mocks
        .service()
        .disable(&mfa_user(false), &client(), &password(), "123456")
        .await;
    assert!(matches!(result, Err(MfaError::NotEnabled)), "{result:?}");
}

#[tokio::test]
async fn a_recovery_code_is_consumed_by_its_normalised_hash() {
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Enabled));
    mocks.expect_password(true);
    mocks
        .factors
        .expect_consume_recovery_code()
        .withf(|user, hash, _| *user == USER_ID && *hash == TokenHash::of("abcdefgh23456789"))
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks.expect_recovery_codes();
    mocks
        .factors
        .expect_replace_recovery_codes()
        .withf(|_, codes, _, event| {
            codes.len() == RECOVERY_CODE_COUNT
                && event.kind == AuditEventType::RecoveryCodesRegenerated
                && event.user_id == Some(USER_ID)
                && event.actor_id == Some(USER_ID)
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let codes = mocks
        .service()
        .regenerate_recovery_codes(
            &mfa_user(true),
            &client(),
            &password(),
            "ABCD-EFGH-2345-6789",
        )
        .await
        .expect("regenerated");
    assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
}

#[tokio::test]
async fn wrong_codes_count_and_past_the_limit_none_is_checked() {
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Enabled));
    mocks.expect_password(true);
    // The password's reservation passes, the code's is over the limit.
    let mut limiter = MockRateLimiter::new();
    let mut hits = 0;
    expect_hits(&mut limiter, move |_, window, now| {
        hits += 1;
        Ok(WindowCount {
            count: if hits > 2 { 11 } else { 1 },
            resets_at: now + window,
        })
    });
    limiter.expect_release().returning(|_| Ok(()));
    limiter.expect_reset().returning(|_| Ok(()));
    limiter.expect_reset_and_release().returning(|_, _| Ok(()));
    mocks.limiter = limiter;
    mocks.codes.expect_matching_step().never();
    mocks.factors.expect_consume_recovery_code().never();
    let result = mocks
        .service()
        .disable(
            &mfa_user(true),
            &client_at("203.0.113.9"),
            &password(),
            "123456",
        )
        .await;
    assert!(
        matches!(result, Err(MfaError::RateLimited { retry_after_secs }) if retry_after_secs > 0),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_administrator_reset_turns_mfa_off_and_ends_every_session() {
    let mut mocks = MfaMocks::new();
    mocks
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(mfa_user(true))));
    mocks
        .factors
        .expect_disable()
        .withf(|user, at, event| {
            *user == USER_ID
                && *at == now()
                && *event
                    == audit_event(
                        AuditEventType::MfaDisabled,
                        Some(USER_ID),
                        Some(OTHER_USER_ID),
                        client(),
                        AuditDetails::new().with("by", "administrator"),
                    )
        })
        .times(1)
        .returning(|_, _, _| Ok(true));
    mocks
        .sessions
        .expect_revoke_all()
        .with(eq(USER_ID), eq(now()))
        .times(1)
        .returning(|_, _| Ok(3));
    mocks
        .service()
        .reset(&admin(), USER_ID)
        .await
        .expect("reset");

    let mut mocks = MfaMocks::new();
    mocks.users.expect_find_by_id().returning(|_| Ok(None));
    let result = mocks.service().reset(&admin(), USER_ID).await;
    assert!(matches!(result, Err(MfaError::NotFound)), "{result:?}");

    let mut mocks = MfaMocks::new();
    mocks
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(mfa_user(false))));
    mocks
        .factors
        .expect_disable()
        .returning(|_, _, _| Ok(false));
    mocks.sessions.expect_revoke_all().never();
    let result = mocks.service().reset(&admin(), USER_ID).await;
    assert!(matches!(result, Err(MfaError::NotEnabled)), "{result:?}");
}

#[tokio::test]
async fn a_secret_that_does_not_open_is_unexpected() {
    let mut mocks = MfaMocks::new();
    mocks.expect_factor(Some(FactorState::Pending));
    mocks.expect_recovery_codes();
    mocks
        .cipher
        .expect_open()
        .returning(|_, _| Err(CipherError(anyhow::anyhow!("wrong key"))));
    let result = mocks
        .service()
        .confirm(&mfa_user(false), SESSION_ID, &client(), "123456")
        .await;
    assert!(matches!(result, Err(MfaError::Unexpected(_))), "{result:?}");
}
