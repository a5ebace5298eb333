//! Unit tests of the limits on password checks (`PasswordGuard`), through
//! log-in, password change and account deletion, every port mocked and time
//! set through the mocked clock.
//!
//! The limiter is a mock whose `hit`, `release` and `reset` keep counts in a
//! shared map, so each test can seed counts and read them afterwards, and
//! `peek` must never be called: the limits are reserved, not looked at.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use mockall::predicate::{always, eq};
use secrecy::SecretString;

use super::LoginError;
use crate::testing::*;
use crate::user::{AccountError, HashError, Password, PasswordPolicy, PasswordVerification};

/// Not the defaults, so that a test notices when the service ignores them.
fn limits() -> LoginLimits {
    LoginLimits {
        max_pair_failures: 3,
        max_account_failures: 5,
        window: TimeDelta::seconds(600),
    }
}

/// The address `login_command` sends from (see `tests::client`).
const CLIENT_IP: &str = "192.0.2.7";

/// Counts per key, as the mock limiter keeps them.
type Counts = Arc<Mutex<HashMap<String, u64>>>;

fn count_of(counts: &Counts, prefix: &str) -> u64 {
    counts
        .lock()
        .expect("lock not poisoned")
        .iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(_, count)| *count)
        .sum()
}

fn account_count(counts: &Counts) -> u64 {
    count_of(counts, "login:a:")
}

fn pair_count(counts: &Counts) -> u64 {
    count_of(counts, "login:p:")
}

/// A limiter whose windows all end `resets_in` after the mocked time `at`,
/// counting in `counts`. Every key it sees must be opaque.
fn counting_limiter(at: DateTime<Utc>, resets_in: TimeDelta, counts: &Counts) -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    let sink = Arc::clone(counts);
    expect_hits(&mut limiter, move |key, _, now| {
        assert!(is_opaque(key), "{key}");
        assert_eq!(now, at, "counted at the clock's time");
        let mut counts = sink.lock().expect("lock not poisoned");
        let count = counts.entry(key.to_owned()).or_default();
        *count += 1;
        Ok(WindowCount {
            count: *count,
            resets_at: at + resets_in,
        })
    });
    let sink = Arc::clone(counts);
    limiter.expect_release().returning(move |key| {
        if let Some(count) = sink.lock().expect("lock not poisoned").get_mut(key) {
            *count = count.saturating_sub(1);
        }
        Ok(())
    });
    let sink = Arc::clone(counts);
    limiter.expect_reset().returning(move |key| {
        sink.lock().expect("lock not poisoned").remove(key);
        Ok(())
    });
    let sink = Arc::clone(counts);
    limiter
        .expect_reset_and_release()
        .returning(move |forget, release| {
            let mut counts = sink.lock().expect("lock not poisoned");
            if let Some(forget) = forget {
                counts.remove(forget);
            }
            if let Some(count) = counts.get_mut(release) {
                *count = count.saturating_sub(1);
            }
            Ok(())
        });
    limiter.expect_peek().never();
    limiter.expect_purge().never();
    limiter
}

/// Seeds the counts as if `pair` failures came from `CLIENT_IP` and
/// `account` (at least `pair`) in all, the rest from other addresses, by
/// running the real key derivation through a
/// throw-away service.
async fn seed(counts: &Counts, account: u64, pair: u64) {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().returning(|_| Ok(None));
    mocks
        .hasher
        .expect_verify()
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    let big = LoginLimits {
        max_pair_failures: u64::MAX,
        max_account_failures: u64::MAX,
        window: limits().window,
    };
    let service = mocks.service_limited(counting_limiter(now(), limits().window, counts), big);
    for i in 0..account.max(pair) {
        let mut command = login_command("ada@example.com", WRONG_PASSWORD);
        if i >= pair {
            command.client.ip = Some(format!("198.51.100.{i}"));
        }
        let _ = service.login(command).await;
    }
    assert_eq!(pair_count_for(counts, CLIENT_IP), pair);
    assert_eq!(account_count(counts), account);
}

/// The pair count of `ip` alone.
fn pair_count_for(counts: &Counts, ip: &str) -> u64 {
    let keys = super::guard::AttemptKeys::new("ada@example.com", Some(ip));
    let pair = keys.pair.expect("an address gives a pair key");
    counts
        .lock()
        .expect("lock not poisoned")
        .get(&pair)
        .copied()
        .unwrap_or(0)
}

fn is_opaque(key: &str) -> bool {
    !key.contains("ada") && !key.contains("example.com") && !key.contains(CLIENT_IP)
}

/// The account service, counting with the same counters.
fn account_limited(mocks: Mocks, counts: &Counts) -> AccountService {
    let at = mocks.now;
    mocks.account_service(Some((
        counting_limiter(at, TimeDelta::seconds(242), counts),
        limits(),
    )))
}

fn limited(mocks: Mocks, counts: &Counts) -> AuthService {
    limited_at(mocks, counts, TimeDelta::seconds(242))
}

fn limited_at(mocks: Mocks, counts: &Counts, resets_in: TimeDelta) -> AuthService {
    let at = mocks.now;
    mocks.service_limited(counting_limiter(at, resets_in, counts), limits())
}

/// No password is checked and no session opened (the account may be
/// looked up).
fn expect_untouched(mocks: &mut Mocks) {
    mocks
        .users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(USER_ID, true))));
    mocks.hasher.expect_verify().never();
    mocks.hasher.expect_hash().never();
    mocks.expect_no_session();
}

fn assert_limited(error: &LoginError, retry_after: u64) {
    assert!(
        matches!(error, LoginError::RateLimited { retry_after_secs } if *retry_after_secs == retry_after),
        "{error:?}"
    );
}

// -------------------------------------------------------------- refusing

#[tokio::test]
async fn login_over_the_pair_limit_is_refused_before_any_check_and_spares_the_account() {
    let counts = Counts::default();
    seed(&counts, 3, 3).await;
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let service = limited(mocks, &counts);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("rate limited, even with the right password");

    assert_limited(&error, 242);
    assert_eq!(
        account_count(&counts),
        3,
        "one address over its own limit does not use up the account's allowance"
    );
}

#[tokio::test]
async fn login_over_the_account_limit_is_refused_from_a_fresh_address_and_releases_the_pair() {
    let counts = Counts::default();
    seed(&counts, 5, 0).await;
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let service = limited_at(mocks, &counts, TimeDelta::seconds(90));

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("rate limited");

    assert_limited(&error, 90);
    assert_eq!(
        pair_count_for(&counts, CLIENT_IP),
        0,
        "the unchecked attempt is taken back"
    );
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_checked_at_most_the_limit_times() {
    const ATTEMPTS: usize = 24;
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(USER_ID, true))));
    let checked = Arc::new(Mutex::new(0_u64));
    let sink = Arc::clone(&checked);
    mocks.hasher.expect_verify().returning(move |_, _| {
        *sink.lock().expect("lock not poisoned") += 1;
        Ok(PasswordVerification::Mismatch)
    });
    mocks.expect_no_session();
    let service = Arc::new(limited(mocks, &counts));

    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let service = Arc::clone(&service);
            tokio::spawn(async move {
                service
                    .login(login_command("ada@example.com", WRONG_PASSWORD))
                    .await
            })
        })
        .collect();
    let (mut wrong, mut refused) = (0, 0);
    for attempt in attempts {
        match attempt.await.expect("no panic") {
            Err(LoginError::InvalidCredentials) => wrong += 1,
            Err(LoginError::RateLimited { .. }) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }

    assert_eq!(wrong, limits().max_pair_failures);
    assert_eq!(refused, ATTEMPTS as u64 - limits().max_pair_failures);
    assert_eq!(
        *checked.lock().expect("lock not poisoned"),
        limits().max_pair_failures,
        "no password beyond the limit is hashed"
    );
}

#[tokio::test]
async fn login_rate_limited_rounds_a_partial_second_up_and_never_says_zero() {
    for (resets_in, expected) in [
        (TimeDelta::milliseconds(1_500), 2),
        (TimeDelta::zero(), 1),
        (TimeDelta::milliseconds(-20), 1),
    ] {
        let counts = Counts::default();
        seed(&counts, 3, 3).await;
        let mut mocks = Mocks::new();
        expect_untouched(&mut mocks);
        let service = limited_at(mocks, &counts, resets_in);

        let error = service
            .login(login_command("ada@example.com", PASSWORD))
            .await
            .expect_err("rate limited");

        assert_limited(&error, expected);
    }
}

// -------------------------------------------------------------- counting

#[tokio::test]
async fn login_with_a_wrong_password_counts_the_account_and_the_pair() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    let error = service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("wrong password");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
    assert_eq!((account_count(&counts), pair_count(&counts)), (1, 1));
}

#[tokio::test]
async fn login_with_an_unknown_address_is_counted_too() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().returning(|_| Ok(None));
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    service
        .login(login_command("nobody@example.com", WRONG_PASSWORD))
        .await
        .expect_err("unknown address");

    assert_eq!((account_count(&counts), pair_count(&counts)), (1, 1));
}

#[tokio::test]
async fn login_keys_do_not_depend_on_the_case_of_the_address() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().returning(|_| Ok(None));
    mocks
        .hasher
        .expect_verify()
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    for spelling in ["ada@example.com", "  ADA@Example.COM "] {
        let _ = service.login(login_command(spelling, WRONG_PASSWORD)).await;
    }

    let keys = counts.lock().expect("lock not poisoned").clone();
    assert_eq!(keys.len(), 2, "one account key and one pair key: {keys:?}");
    assert!(keys.values().all(|count| *count == 2), "{keys:?}");
}

#[tokio::test]
async fn addresses_in_one_ipv6_network_share_a_pair() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().returning(|_| Ok(None));
    mocks
        .hasher
        .expect_verify()
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    for ip in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"] {
        let mut command = login_command("ada@example.com", WRONG_PASSWORD);
        command.client.ip = Some(ip.into());
        let _ = service.login(command).await;
    }

    let counts = counts.lock().expect("lock not poisoned").clone();
    let mut pairs: Vec<u64> = counts
        .iter()
        .filter(|(key, _)| key.starts_with("login:p:"))
        .map(|(_, count)| *count)
        .collect();
    pairs.sort_unstable();
    assert_eq!(pairs, vec![1, 2], "one /64 counts as one address");
}

#[tokio::test]
async fn login_success_resets_the_pair_and_takes_back_the_account_reservation() {
    let counts = Counts::default();
    seed(&counts, 2, 2).await;
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[
        SESSION_ID.0,
        uuid::Uuid::from_u128(0x0301),
        uuid::Uuid::from_u128(0x0201),
    ]);
    mocks.expect_session_opened(USER_ID);
    let service = limited(mocks, &counts);

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("logged in");

    assert_eq!(pair_count(&counts), 0, "a success resets the pair");
    assert_eq!(account_count(&counts), 2, "a success is not a failure");
}

#[tokio::test]
async fn the_right_password_of_a_user_with_mfa_resets_nothing_before_the_code() {
    let counts = Counts::default();
    seed(&counts, 2, 2).await;
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
    mocks
        .secrets
        .expect_generate()
        .return_const("mfa-token".to_owned());
    mocks
        .ids
        .expect_new_id()
        .return_const(uuid::Uuid::from_u128(0x0401));
    mocks.challenges.expect_insert().returning(|_| Ok(()));
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("a code is needed");

    assert!(matches!(error, LoginError::MfaRequired { .. }), "{error:?}");
    // Neither a failure nor a success yet: the pair keeps its failures
    // until the code passes, the attempt itself is taken back.
    assert_eq!((account_count(&counts), pair_count(&counts)), (2, 2));
}

#[tokio::test]
async fn login_of_a_disabled_user_with_the_right_password_resets_the_pair() {
    let counts = Counts::default();
    seed(&counts, 1, 1).await;
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, false)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("disabled");

    assert!(matches!(error, LoginError::AccountDisabled), "{error:?}");
    assert_eq!((account_count(&counts), pair_count(&counts)), (1, 0));
}

#[tokio::test]
async fn login_without_a_client_ip_uses_only_the_account_key() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().returning(|_| Ok(None));
    mocks
        .hasher
        .expect_verify()
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    for _ in 0..limits().max_account_failures {
        let mut command = login_command("ada@example.com", WRONG_PASSWORD);
        command.client.ip = None;
        let error = service.login(command).await.expect_err("wrong");
        assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
    }
    let mut command = login_command("ada@example.com", WRONG_PASSWORD);
    command.client.ip = None;
    let error = service.login(command).await.expect_err("limited");

    assert!(matches!(error, LoginError::RateLimited { .. }), "{error:?}");
    assert_eq!(pair_count(&counts), 0);
}

#[tokio::test]
async fn login_when_hashing_is_saturated_counts_nothing() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .returning(|_, _| Err(HashError::Busy));
    mocks.expect_no_session();
    let service = limited(mocks, &counts);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("busy");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
    assert_eq!((account_count(&counts), pair_count(&counts)), (0, 0));
}

#[tokio::test]
async fn login_when_the_limiter_is_unreachable_is_unavailable_and_checks_nothing() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_hit_in_turn()
        .times(1)
        .returning(|_, _, _| Err(unavailable()));
    let service = mocks.service_limited(limiter, limits());

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("limiter down");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn login_succeeds_when_taking_back_the_reservation_fails() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[
        SESSION_ID.0,
        uuid::Uuid::from_u128(0x0301),
        uuid::Uuid::from_u128(0x0201),
    ]);
    mocks.expect_session_opened(USER_ID);
    let mut limiter = MockRateLimiter::new();
    expect_hits(&mut limiter, |_, _, now| {
        Ok(WindowCount {
            count: 1,
            resets_at: now + limits().window,
        })
    });
    limiter
        .expect_reset_and_release()
        .returning(|_, _| Err(unavailable()));
    let service = mocks.service_limited(limiter, limits());

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("the counters are best-effort after the check");
}

// ------------------------------------------- other password checks

fn new_password() -> Password {
    Password::parse(
        SecretString::from("a brand new passphrase"),
        &PasswordPolicy::default(),
        Some(&email()),
    )
    .expect("valid")
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_login_limits() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    let checked = Arc::new(Mutex::new(0_u64));
    let sink = Arc::clone(&checked);
    mocks.hasher.expect_verify().returning(move |_, _| {
        *sink.lock().expect("lock not poisoned") += 1;
        Ok(PasswordVerification::Mismatch)
    });
    mocks.hasher.expect_hash().never();
    mocks.users.expect_update_password_hash().never();
    let service = account_limited(mocks, &counts);
    let ada = user(USER_ID, true);

    for _ in 0..limits().max_pair_failures {
        let error = service
            .change_password(
                &ada,
                SESSION_ID,
                &client_at(CLIENT_IP),
                &SecretString::from(WRONG_PASSWORD),
                &new_password(),
            )
            .await
            .expect_err("wrong password");
        assert!(matches!(error, AccountError::WrongPassword), "{error:?}");
    }
    let error = service
        .change_password(
            &ada,
            SESSION_ID,
            &client_at(CLIENT_IP),
            &SecretString::from(PASSWORD),
            &new_password(),
        )
        .await
        .expect_err("limited");
    assert!(
        matches!(error, AccountError::RateLimited { .. }),
        "{error:?}"
    );
    let error = service
        .delete_account(&ada, &client_at(CLIENT_IP), &SecretString::from(PASSWORD))
        .await
        .expect_err("limited");
    assert!(
        matches!(error, AccountError::RateLimited { .. }),
        "{error:?}"
    );

    assert_eq!(
        *checked.lock().expect("lock not poisoned"),
        limits().max_pair_failures
    );
    // The same counters as the log-in form: it is limited too now.
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let error = limited(mocks, &counts)
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("limited");
    assert!(matches!(error, LoginError::RateLimited { .. }), "{error:?}");
}

#[tokio::test]
async fn a_wrong_deletion_password_is_counted_and_a_right_one_releases() {
    let counts = Counts::default();
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_verify()
        .withf(|candidate, _| {
            use secrecy::ExposeSecret as _;
            candidate.expose_secret() == WRONG_PASSWORD
        })
        .times(1)
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    mocks.hasher.expect_verify().times(1).returning(|_, _| {
        Ok(PasswordVerification::Match {
            needs_rehash: false,
        })
    });
    mocks
        .users
        .expect_delete()
        .with(eq(USER_ID), always())
        .times(1)
        .returning(|_, _| Ok(true));
    let service = account_limited(mocks, &counts);
    let ada = user(USER_ID, true);

    let error = service
        .delete_account(
            &ada,
            &client_at(CLIENT_IP),
            &SecretString::from(WRONG_PASSWORD),
        )
        .await
        .expect_err("wrong");
    assert!(matches!(error, AccountError::WrongPassword), "{error:?}");
    assert_eq!((account_count(&counts), pair_count(&counts)), (1, 1));

    service
        .delete_account(&ada, &client_at(CLIENT_IP), &SecretString::from(PASSWORD))
        .await
        .expect("deleted");
    assert_eq!((account_count(&counts), pair_count(&counts)), (1, 0));
}
