//! Unit tests of the failed-log-in limits (`with_login_limits`), every port
//! mocked and time set through the mocked clock.
//!
//! As in `tests.rs`, a mock method without an expectation panics when called,
//! and `times(..)` are checked when the service is dropped.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use mockall::predicate::{always, eq};

use super::tests::{
    Mocks, PASSWORD, REFRESH_TOKEN_ID, SESSION_ID, STORED_HASH, TOKEN_ID, USER_ID, WRONG_PASSWORD,
    email, login_command, now, unavailable, user,
};
use super::{AuthService, LoginError, LoginLimits};
use crate::common::{MockRateLimiter, WindowCount};
use crate::user::PasswordVerification;

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

/// Whether `key` is a hashed per-account key: the prefix, then nothing that
/// gives the address or IP away.
fn is_account_key(key: &str) -> bool {
    key.starts_with("login:a:") && is_opaque(key)
}

/// Whether `key` is a hashed per-account-and-address key.
fn is_pair_key(key: &str) -> bool {
    key.starts_with("login:p:") && is_opaque(key)
}

fn is_opaque(key: &str) -> bool {
    !key.contains("ada") && !key.contains("example.com") && !key.contains(CLIENT_IP)
}

/// A window holding `count` failures that ends in `resets_in`, seen at `at`.
fn window(count: u64, at: DateTime<Utc>, resets_in: TimeDelta) -> WindowCount {
    WindowCount {
        count,
        resets_at: at + resets_in,
    }
}

/// The limiter answers `peek` with `account` for the account key and `pair`
/// for the pair key (each once, with the configured window and the clock's
/// time), and records nothing unless told.
fn limiter_peeking(
    at: DateTime<Utc>,
    account: WindowCount,
    pair: Option<WindowCount>,
) -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_peek()
        .withf(move |key, window, now| {
            is_account_key(key) && *window == limits().window && *now == at
        })
        .times(1)
        .return_once(move |_, _, _| Ok(account));
    match pair {
        Some(pair) => {
            limiter
                .expect_peek()
                .withf(move |key, window, now| {
                    is_pair_key(key) && *window == limits().window && *now == at
                })
                .times(1)
                .return_once(move |_, _, _| Ok(pair));
        }
        None => {
            limiter
                .expect_peek()
                .withf(|key, _, _| is_pair_key(key))
                .never();
        }
    }
    limiter.expect_purge().never();
    limiter
}

/// Nothing is counted or reset.
fn expect_nothing_recorded(limiter: &mut MockRateLimiter) {
    limiter.expect_hit().never();
    limiter.expect_reset().never();
}

/// No password is checked, no user looked up, no session opened.
fn expect_untouched(mocks: &mut Mocks) {
    mocks.users.expect_find_by_email().never();
    mocks.hasher.expect_verify().never();
    mocks.hasher.expect_hash().never();
    mocks.expect_no_session();
}

fn limited(mocks: Mocks, limiter: MockRateLimiter) -> AuthService {
    mocks
        .service()
        .with_login_limits(Arc::new(limiter), limits())
}

/// The keys `hit` (or `reset`) was called with, in order.
type Keys = Arc<Mutex<Vec<String>>>;

fn keys(recorded: &Keys) -> Vec<String> {
    recorded.lock().expect("lock not poisoned").clone()
}

// -------------------------------------------------------------- refusing

#[tokio::test]
async fn login_with_the_pair_at_its_max_is_rate_limited_before_any_check() {
    let at = now() + TimeDelta::minutes(42);
    let mut mocks = Mocks::new();
    mocks.now = at;
    expect_untouched(&mut mocks);
    let mut limiter = limiter_peeking(
        at,
        window(3, at, TimeDelta::seconds(500)),
        Some(window(
            limits().max_pair_failures,
            at,
            TimeDelta::seconds(242),
        )),
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("rate limited");

    assert!(
        matches!(
            error,
            LoginError::RateLimited {
                retry_after_secs: 242
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn login_with_the_pair_over_its_max_is_rate_limited() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = limiter_peeking(
        now(),
        window(0, now(), TimeDelta::zero()),
        Some(window(
            limits().max_pair_failures + 7,
            now(),
            TimeDelta::seconds(60),
        )),
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("rate limited");

    assert!(
        matches!(
            error,
            LoginError::RateLimited {
                retry_after_secs: 60
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn login_with_the_account_at_its_max_is_rate_limited_from_a_fresh_address() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = limiter_peeking(
        now(),
        window(limits().max_account_failures, now(), TimeDelta::seconds(90)),
        Some(window(0, now(), TimeDelta::zero())),
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("rate limited");

    assert!(
        matches!(
            error,
            LoginError::RateLimited {
                retry_after_secs: 90
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn login_blocked_by_both_limits_waits_for_the_later_window() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = limiter_peeking(
        now(),
        window(limits().max_account_failures, now(), TimeDelta::seconds(90)),
        Some(window(
            limits().max_pair_failures,
            now(),
            TimeDelta::seconds(400),
        )),
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("rate limited");

    assert!(
        matches!(
            error,
            LoginError::RateLimited {
                retry_after_secs: 400
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn login_rate_limited_rounds_a_partial_second_up() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = limiter_peeking(
        now(),
        window(0, now(), TimeDelta::zero()),
        Some(window(
            limits().max_pair_failures,
            now(),
            TimeDelta::milliseconds(59_250),
        )),
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("rate limited");

    // Retrying after 59 s would still be refused.
    assert!(
        matches!(
            error,
            LoginError::RateLimited {
                retry_after_secs: 60
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn login_rate_limited_never_says_retry_after_zero() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = limiter_peeking(
        now(),
        window(limits().max_account_failures, now(), TimeDelta::zero()),
        Some(window(0, now(), TimeDelta::zero())),
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("rate limited");

    assert!(
        matches!(
            error,
            LoginError::RateLimited {
                retry_after_secs: 1
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn login_when_the_limiter_cannot_be_read_is_unavailable() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_peek()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("limiter unavailable");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
}

// ------------------------------------------------------------- counting

#[tokio::test]
async fn login_below_both_limits_logs_in_and_resets_only_the_pair() {
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
    let _ = mocks.expect_session_opened(USER_ID);
    let mut limiter = limiter_peeking(
        now(),
        window(
            limits().max_account_failures - 1,
            now(),
            TimeDelta::seconds(30),
        ),
        Some(window(
            limits().max_pair_failures - 1,
            now(),
            TimeDelta::seconds(30),
        )),
    );
    limiter.expect_hit().never();
    let reset = Keys::default();
    let sink = Arc::clone(&reset);
    limiter.expect_reset().times(1).returning(move |key| {
        sink.lock().expect("lock not poisoned").push(key.to_owned());
        Ok(())
    });
    let service = limited(mocks, limiter);

    let (logged_in, tokens) = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(logged_in.id, USER_ID);
    assert_eq!(tokens.session_id, SESSION_ID);
    let reset = keys(&reset);
    assert_eq!(reset.len(), 1);
    assert!(is_pair_key(&reset[0]), "{reset:?}");
}

#[tokio::test]
async fn login_with_a_wrong_password_counts_the_account_and_the_pair() {
    let at = now() + TimeDelta::seconds(17);
    let mut mocks = Mocks::new();
    mocks.now = at;
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let mut limiter = MockRateLimiter::new();
    let peeked = Keys::default();
    let sink = Arc::clone(&peeked);
    limiter
        .expect_peek()
        .with(always(), eq(limits().window), eq(at))
        .times(2)
        .returning(move |key, _, now| {
            sink.lock().expect("lock not poisoned").push(key.to_owned());
            Ok(window(0, now, TimeDelta::zero()))
        });
    let hit = Keys::default();
    let sink = Arc::clone(&hit);
    limiter
        .expect_hit()
        .with(always(), eq(limits().window), eq(at))
        .times(2)
        .returning(move |key, _, now| {
            sink.lock().expect("lock not poisoned").push(key.to_owned());
            Ok(window(1, now, limits().window))
        });
    limiter.expect_reset().never();
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("wrong password");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
    let hit = keys(&hit);
    assert_eq!(hit.len(), 2, "{hit:?}");
    assert!(hit.iter().any(|key| is_account_key(key)), "{hit:?}");
    assert!(hit.iter().any(|key| is_pair_key(key)), "{hit:?}");
    // The same keys that were checked are counted.
    let mut peeked = keys(&peeked);
    let mut counted = hit.clone();
    peeked.sort();
    counted.sort();
    assert_eq!(peeked, counted);
}

#[tokio::test]
async fn login_keys_do_not_depend_on_the_case_of_the_address() {
    let mut limiter = MockRateLimiter::new();
    let peeked = Keys::default();
    let sink = Arc::clone(&peeked);
    limiter
        .expect_peek()
        .times(4)
        .returning(move |key, _, now| {
            sink.lock().expect("lock not poisoned").push(key.to_owned());
            Ok(window(0, now, TimeDelta::zero()))
        });
    limiter.expect_hit().times(4).returning(|_, window, now| {
        Ok(WindowCount {
            count: 1,
            resets_at: now + window,
        })
    });
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .with(eq(email()))
        .times(2)
        .returning(|_| Ok(Some(user(USER_ID, true))));
    mocks
        .hasher
        .expect_verify()
        .times(2)
        .returning(|_, _| Ok(PasswordVerification::Mismatch));
    mocks.expect_no_session();
    let service = limited(mocks, limiter);

    for typed in ["ada@example.com", "  ADA@Example.COM "] {
        let error = service
            .login(login_command(typed, WRONG_PASSWORD))
            .await
            .expect_err("wrong password");
        assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
    }

    let peeked = keys(&peeked);
    assert_eq!(peeked[0..2], peeked[2..4], "{peeked:?}");
}

#[tokio::test]
async fn login_with_an_unknown_address_is_counted_too() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), None);
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .return_once(|_, _| Ok(PasswordVerification::Mismatch));
    mocks.expect_no_session();
    let mut limiter = limiter_peeking(
        now(),
        window(0, now(), TimeDelta::zero()),
        Some(window(0, now(), TimeDelta::zero())),
    );
    limiter
        .expect_hit()
        .withf(|key, _, _| is_account_key(key))
        .times(1)
        .returning(|_, window, now| {
            Ok(WindowCount {
                count: 1,
                resets_at: now + window,
            })
        });
    limiter
        .expect_hit()
        .withf(|key, _, _| is_pair_key(key))
        .times(1)
        .returning(|_, window, now| {
            Ok(WindowCount {
                count: 1,
                resets_at: now + window,
            })
        });
    limiter.expect_reset().never();
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("unknown address");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_failure_stays_invalid_credentials_when_counting_fails() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let mut limiter = limiter_peeking(
        now(),
        window(0, now(), TimeDelta::zero()),
        Some(window(0, now(), TimeDelta::zero())),
    );
    // Both keys are still tried when the first fails.
    limiter
        .expect_hit()
        .times(2)
        .returning(|_, _, _| Err(unavailable()));
    limiter.expect_reset().never();
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", WRONG_PASSWORD))
        .await
        .expect_err("wrong password");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_succeeds_when_the_reset_fails() {
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
    let _ = mocks.expect_session_opened(USER_ID);
    let mut limiter = limiter_peeking(
        now(),
        window(0, now(), TimeDelta::zero()),
        Some(window(0, now(), TimeDelta::zero())),
    );
    limiter.expect_hit().never();
    limiter
        .expect_reset()
        .times(1)
        .return_once(|_| Err(unavailable()));
    let service = limited(mocks, limiter);

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");
}

#[tokio::test]
async fn login_of_a_disabled_user_with_the_right_password_resets_the_pair() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, false)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let mut limiter = limiter_peeking(
        now(),
        window(0, now(), TimeDelta::zero()),
        Some(window(1, now(), TimeDelta::seconds(10))),
    );
    limiter.expect_hit().never();
    limiter
        .expect_reset()
        .withf(is_pair_key)
        .times(1)
        .return_once(|_| Ok(()));
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("disabled");

    assert!(matches!(error, LoginError::AccountDisabled), "{error:?}");
}

#[tokio::test]
async fn login_when_storage_fails_counts_nothing() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .times(1)
        .return_once(|_| Err(unavailable()));
    mocks.hasher.expect_verify().never();
    mocks.expect_no_session();
    let mut limiter = limiter_peeking(
        now(),
        window(0, now(), TimeDelta::zero()),
        Some(window(0, now(), TimeDelta::zero())),
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("storage unavailable");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
}

// ------------------------------------------------- no limiter, no address

#[tokio::test]
async fn login_without_limits_never_touches_a_limiter() {
    // No limiter configured: nothing is checked or counted, and a wrong
    // password is refused as without limits.
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
async fn login_limits_without_a_client_ip_use_only_the_account_key() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(WRONG_PASSWORD, STORED_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let mut limiter = limiter_peeking(now(), window(0, now(), TimeDelta::zero()), None);
    limiter
        .expect_hit()
        .withf(|key, window, at| is_account_key(key) && *window == limits().window && *at == now())
        .times(1)
        .returning(|_, window, now| {
            Ok(WindowCount {
                count: 1,
                resets_at: now + window,
            })
        });
    limiter
        .expect_hit()
        .withf(|key, _, _| !is_account_key(key))
        .never();
    limiter.expect_reset().never();
    let service = limited(mocks, limiter);
    let mut command = login_command("ada@example.com", WRONG_PASSWORD);
    command.client.ip = None;

    let error = service.login(command).await.expect_err("wrong password");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_without_a_client_ip_success_resets_nothing() {
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
    let _ = mocks.expect_session_opened(USER_ID);
    let mut limiter = limiter_peeking(
        now(),
        window(
            limits().max_account_failures - 1,
            now(),
            TimeDelta::seconds(5),
        ),
        None,
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);
    let mut command = login_command("ada@example.com", PASSWORD);
    command.client.ip = None;

    service.login(command).await.expect("login succeeds");
}

#[tokio::test]
async fn login_limits_without_a_client_ip_still_refuse_at_the_account_max() {
    let mut mocks = Mocks::new();
    expect_untouched(&mut mocks);
    let mut limiter = limiter_peeking(
        now(),
        window(
            limits().max_account_failures,
            now(),
            TimeDelta::seconds(120),
        ),
        None,
    );
    expect_nothing_recorded(&mut limiter);
    let service = limited(mocks, limiter);
    let mut command = login_command("ada@example.com", PASSWORD);
    command.client.ip = None;

    let error = service.login(command).await.expect_err("rate limited");

    assert!(
        matches!(
            error,
            LoginError::RateLimited {
                retry_after_secs: 120
            }
        ),
        "{error:?}"
    );
}
