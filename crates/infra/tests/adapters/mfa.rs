//! `SeaOrmSecondFactorRepository` and `SeaOrmMfaChallengeRepository`.
//!
//! Times are the ones each call is handed, never the wall clock's: expiry is
//! tested by passing a later `now`.

use std::sync::Arc;

use auth_domain::audit::{AuditEvent, AuditEventType, AuditFilter, AuditLog as _};
use auth_domain::common::{PageRequest, StorageError, TokenHash};
use auth_domain::mfa::{
    FactorState, MFA_TOKEN_TTL, MfaChallenge, MfaChallengeRepository as _, SealedSecret,
    SecondFactor, SecondFactorRepository as _,
};
use auth_domain::user::{User, UserId, UserRepository as _};
use auth_infra::db_test;
use auth_infra::sea_orm::entities::{mfa_challenge, mfa_factor, mfa_recovery_code};
use auth_infra::sea_orm::{
    SeaOrmAuditLog, SeaOrmMfaChallengeRepository, SeaOrmSecondFactorRepository,
    SeaOrmUserRepository,
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QueryOrder as _,
};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::fixtures;

/// How many tasks race for one step, code or challenge.
const RACERS: usize = 20;

/// A stored, active user without MFA.
async fn stored_user(db: &DatabaseConnection, email: &str) -> User {
    let user = fixtures::plain_user(email);
    SeaOrmUserRepository::new(db.clone())
        .insert(&user, &fixtures::event())
        .await
        .expect("insert the user");
    user
}

/// A sealed secret as the cipher would make it (the repository never opens
/// it).
fn sealed(label: &str) -> SealedSecret {
    SealedSecret::from_stored(format!("v1.{label}"))
}

/// The hashes of `count` recovery codes, distinct per `label`.
fn codes(label: &str, count: usize) -> Vec<TokenHash> {
    (0..count)
        .map(|i| TokenHash::of(&format!("{label}-code-{i}")))
        .collect()
}

/// An event of `kind` about `user`.
fn audit(kind: AuditEventType, user: UserId) -> AuditEvent {
    AuditEvent {
        kind,
        user_id: Some(user),
        ..fixtures::event()
    }
}

/// Every stored audit event, newest first.
async fn events(db: &DatabaseConnection) -> Vec<AuditEvent> {
    SeaOrmAuditLog::new(db.clone())
        .list(
            AuditFilter::default(),
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .await
        .expect("list the audit events")
        .items
}

/// The user's factor as stored.
async fn factor(repo: &SeaOrmSecondFactorRepository, user: UserId) -> Option<SecondFactor> {
    repo.find(user).await.expect("find the factor")
}

/// The user's recovery-code rows, ordered by hash.
async fn code_rows(db: &DatabaseConnection, user: UserId) -> Vec<mfa_recovery_code::Model> {
    mfa_recovery_code::Entity::find()
        .filter(mfa_recovery_code::Column::UserId.eq(user.0))
        .order_by_asc(mfa_recovery_code::Column::CodeHash)
        .all(db)
        .await
        .expect("read the recovery codes")
}

/// The hashes of the user's unused recovery codes, sorted.
async fn unused_codes(db: &DatabaseConnection, user: UserId) -> Vec<String> {
    code_rows(db, user)
        .await
        .into_iter()
        .filter(|row| row.used_at.is_none())
        .map(|row| row.code_hash)
        .collect()
}

fn sorted(hashes: &[TokenHash]) -> Vec<String> {
    let mut hashes: Vec<String> = hashes.iter().map(|h| h.as_str().to_owned()).collect();
    hashes.sort();
    hashes
}

/// `users.mfa_enabled` of the user.
async fn mfa_flag(db: &DatabaseConnection, user: UserId) -> bool {
    SeaOrmUserRepository::new(db.clone())
        .find_by_id(user)
        .await
        .expect("find the user")
        .expect("the user exists")
        .mfa_enabled
}

/// Starts and confirms a factor sealed as `secret` at step 100, with
/// `recovery_codes`; returns the time used.
async fn enabled(
    repo: &SeaOrmSecondFactorRepository,
    user: UserId,
    secret: &SealedSecret,
    recovery_codes: &[TokenHash],
) -> DateTime<Utc> {
    let now = fixtures::now();
    assert!(
        repo.start_enrolment(user, secret, now)
            .await
            .expect("start the enrolment")
    );
    assert!(
        repo.enable(
            user,
            secret,
            100,
            recovery_codes,
            now,
            &audit(AuditEventType::MfaEnabled, user)
        )
        .await
        .expect("enable")
    );
    now
}

// --- SeaOrmSecondFactorRepository -----------------------------------------

db_test!(a_restarted_enrolment_replaces_the_pending_one, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    assert_eq!(factor(&repo, ada.id).await, None);

    let first_at = fixtures::now();
    assert!(
        repo.start_enrolment(ada.id, &sealed("first"), first_at)
            .await
            .expect("start")
    );
    assert_eq!(
        factor(&repo, ada.id).await,
        Some(SecondFactor {
            user_id: ada.id,
            secret: sealed("first"),
            state: FactorState::Pending,
            last_step: None,
            created_at: first_at,
        })
    );

    let second_at = first_at + Duration::minutes(3);
    assert!(
        repo.start_enrolment(ada.id, &sealed("second"), second_at)
            .await
            .expect("restart")
    );
    assert_eq!(
        factor(&repo, ada.id).await,
        Some(SecondFactor {
            user_id: ada.id,
            secret: sealed("second"),
            state: FactorState::Pending,
            last_step: None,
            created_at: second_at,
        })
    );
    assert_eq!(
        mfa_factor::Entity::find()
            .count(&db.db)
            .await
            .expect("count"),
        1
    );
    assert!(!mfa_flag(&db.db, ada.id).await, "pending is not on");
});

db_test!(an_enabled_factor_refuses_a_new_enrolment, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let enabled_at = enabled(&repo, ada.id, &sealed("live"), &codes("a", 3)).await;
    let before = factor(&repo, ada.id).await;

    let restarted = repo
        .start_enrolment(ada.id, &sealed("attacker"), enabled_at + Duration::hours(1))
        .await
        .expect("start");
    assert!(!restarted);
    assert_eq!(factor(&repo, ada.id).await, before);
    assert_eq!(
        before.map(|f| (f.secret, f.state, f.last_step)),
        Some((sealed("live"), FactorState::Enabled, Some(100)))
    );
    assert!(mfa_flag(&db.db, ada.id).await);
});

db_test!(enable_turns_on_only_the_pending_secret_it_names, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let now = fixtures::now();
    let recovery = codes("ada", 10);

    // No enrolment at all.
    let event = audit(AuditEventType::MfaEnabled, ada.id);
    let before = events(&db.db).await;
    assert!(
        !repo
            .enable(ada.id, &sealed("first"), 7, &recovery, now, &event)
            .await
            .expect("enable")
    );

    // The enrolment was restarted: the first secret no longer confirms.
    repo.start_enrolment(ada.id, &sealed("first"), now)
        .await
        .expect("start");
    repo.start_enrolment(ada.id, &sealed("second"), now)
        .await
        .expect("restart");
    assert!(
        !repo
            .enable(ada.id, &sealed("first"), 7, &recovery, now, &event)
            .await
            .expect("enable")
    );
    assert_eq!(
        factor(&repo, ada.id).await.map(|f| f.state),
        Some(FactorState::Pending)
    );
    assert!(code_rows(&db.db, ada.id).await.is_empty());
    assert!(!mfa_flag(&db.db, ada.id).await);
    assert_eq!(events(&db.db).await, before, "no event for a refusal");

    let enabled_at = now + Duration::seconds(20);
    assert!(
        repo.enable(ada.id, &sealed("second"), 7, &recovery, enabled_at, &event)
            .await
            .expect("enable")
    );
    assert_eq!(
        factor(&repo, ada.id).await,
        Some(SecondFactor {
            user_id: ada.id,
            secret: sealed("second"),
            state: FactorState::Enabled,
            last_step: Some(7),
            created_at: now,
        })
    );
    let rows = code_rows(&db.db, ada.id).await;
    assert_eq!(
        rows.iter().map(|r| r.code_hash.clone()).collect::<Vec<_>>(),
        sorted(&recovery)
    );
    assert!(
        rows.iter()
            .all(|r| r.used_at.is_none() && r.created_at == enabled_at)
    );
    assert!(mfa_flag(&db.db, ada.id).await);
    assert_eq!(events(&db.db).await[0], event);
});

db_test!(a_second_enable_writes_nothing, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let first_codes = codes("first", 3);
    enabled(&repo, ada.id, &sealed("live"), &first_codes).await;
    let factor_before = factor(&repo, ada.id).await;
    let events_before = events(&db.db).await;

    let again = repo
        .enable(
            ada.id,
            &sealed("live"),
            500,
            &codes("second", 3),
            fixtures::now(),
            &audit(AuditEventType::MfaEnabled, ada.id),
        )
        .await
        .expect("enable");
    assert!(!again);
    assert_eq!(factor(&repo, ada.id).await, factor_before);
    assert_eq!(unused_codes(&db.db, ada.id).await, sorted(&first_codes));
    assert_eq!(events(&db.db).await, events_before);
});

db_test!(concurrent_enables_turn_the_factor_on_once, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let now = fixtures::now();
    repo.start_enrolment(ada.id, &sealed("pending"), now)
        .await
        .expect("start");
    let before = events(&db.db).await.len();

    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (repo, start) = (repo.clone(), Arc::clone(&start));
            let recovery = codes(&format!("racer-{i}"), 3);
            tokio::spawn(async move {
                start.wait().await;
                let enabled = repo
                    .enable(
                        ada.id,
                        &sealed("pending"),
                        7,
                        &recovery,
                        now,
                        &audit(AuditEventType::MfaEnabled, ada.id),
                    )
                    .await;
                (recovery, enabled)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.expect("the racer did not panic") {
            (recovery, Ok(true)) => winners.push(recovery),
            (_, Ok(false)) => {}
            (_, Err(error)) => panic!("unexpected error: {error:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one confirmation wins");
    assert_eq!(unused_codes(&db.db, ada.id).await, sorted(&winners[0]));
    assert_eq!(events(&db.db).await.len(), before + 1, "one event");
    assert!(mfa_flag(&db.db, ada.id).await);
});

db_test!(enable_stores_its_event_in_its_transaction, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let now = fixtures::now();
    repo.start_enrolment(ada.id, &sealed("pending"), now)
        .await
        .expect("start");
    // An event already stored under the id the enable's event will use: its
    // insert fails, last in the transaction.
    let taken = fixtures::event();
    SeaOrmAuditLog::new(db.db.clone())
        .record(&taken)
        .await
        .expect("record");
    let clash = AuditEvent {
        id: taken.id,
        ..audit(AuditEventType::MfaEnabled, ada.id)
    };

    let result = repo
        .enable(ada.id, &sealed("pending"), 7, &codes("a", 3), now, &clash)
        .await;
    assert!(
        matches!(result, Err(StorageError::Unexpected(_))),
        "{result:?}"
    );
    assert_eq!(
        factor(&repo, ada.id).await.map(|f| (f.state, f.last_step)),
        Some((FactorState::Pending, None))
    );
    assert!(code_rows(&db.db, ada.id).await.is_empty());
    assert!(!mfa_flag(&db.db, ada.id).await);
});

db_test!(accept_step_takes_only_a_later_step, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let grace = stored_user(&db.db, "grace@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());

    // No factor, then a pending one: nothing to accept a code for.
    assert!(!repo.accept_step(ada.id, 1).await.expect("accept"));
    repo.start_enrolment(ada.id, &sealed("pending"), fixtures::now())
        .await
        .expect("start");
    assert!(!repo.accept_step(ada.id, 1).await.expect("accept"));
    assert_eq!(factor(&repo, ada.id).await.map(|f| f.last_step), Some(None));

    // Enabled at step 100.
    repo.enable(
        ada.id,
        &sealed("pending"),
        100,
        &[],
        fixtures::now(),
        &audit(AuditEventType::MfaEnabled, ada.id),
    )
    .await
    .expect("enable");
    enabled(&repo, grace.id, &sealed("grace"), &[]).await;
    for (step, accepted) in [
        (99, false),
        (100, false),
        (101, true),
        (101, false),
        (100, false),
        (105, true),
    ] {
        assert_eq!(
            repo.accept_step(ada.id, step).await.expect("accept"),
            accepted,
            "step {step}"
        );
    }
    assert_eq!(
        factor(&repo, ada.id).await.map(|f| f.last_step),
        Some(Some(105))
    );
    // Another user's factor is untouched.
    assert_eq!(
        factor(&repo, grace.id).await.map(|f| f.last_step),
        Some(Some(100))
    );
});

db_test!(
    concurrent_accepts_of_one_step_let_exactly_one_through,
    |db| {
        let ada = stored_user(&db.db, "ada@example.com").await;
        let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
        enabled(&repo, ada.id, &sealed("live"), &[]).await;

        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (repo, start) = (repo.clone(), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    repo.accept_step(ada.id, 101).await
                })
            })
            .collect();
        let mut accepted = 0;
        for racer in racers {
            match racer.await.expect("the racer did not panic") {
                Ok(true) => accepted += 1,
                Ok(false) => {}
                Err(error) => panic!("unexpected error: {error:?}"),
            }
        }
        assert_eq!(accepted, 1, "exactly one code of step 101 is accepted");
        assert_eq!(
            factor(&repo, ada.id).await.map(|f| f.last_step),
            Some(Some(101))
        );
    }
);

db_test!(a_recovery_code_is_consumed_once, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let grace = stored_user(&db.db, "grace@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let recovery = codes("ada", 3);
    enabled(&repo, ada.id, &sealed("ada"), &recovery).await;
    enabled(&repo, grace.id, &sealed("grace"), &codes("grace", 3)).await;
    let now = fixtures::now() + Duration::minutes(1);

    // Ada's code is no code of Grace's, and an unknown code is nobody's.
    assert!(
        !repo
            .consume_recovery_code(grace.id, &recovery[0], now)
            .await
            .expect("consume")
    );
    assert!(
        !repo
            .consume_recovery_code(ada.id, &TokenHash::of("not a code"), now)
            .await
            .expect("consume")
    );

    assert!(
        repo.consume_recovery_code(ada.id, &recovery[0], now)
            .await
            .expect("consume")
    );
    assert!(
        !repo
            .consume_recovery_code(ada.id, &recovery[0], now + Duration::seconds(1))
            .await
            .expect("consume again")
    );
    let used: Vec<_> = code_rows(&db.db, ada.id)
        .await
        .into_iter()
        .filter_map(|row| row.used_at.map(|at| (row.code_hash, at)))
        .collect();
    assert_eq!(used, vec![(recovery[0].as_str().to_owned(), now)]);
    assert_eq!(unused_codes(&db.db, ada.id).await, sorted(&recovery[1..]));
    assert_eq!(unused_codes(&db.db, grace.id).await.len(), 3);
});

db_test!(
    concurrent_consumes_of_one_code_let_exactly_one_through,
    |db| {
        let ada = stored_user(&db.db, "ada@example.com").await;
        let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
        let recovery = codes("ada", 2);
        enabled(&repo, ada.id, &sealed("live"), &recovery).await;
        let now = fixtures::now();

        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (repo, start) = (repo.clone(), Arc::clone(&start));
                let code = recovery[0].clone();
                tokio::spawn(async move {
                    start.wait().await;
                    repo.consume_recovery_code(ada.id, &code, now).await
                })
            })
            .collect();
        let mut consumed = 0;
        for racer in racers {
            match racer.await.expect("the racer did not panic") {
                Ok(true) => consumed += 1,
                Ok(false) => {}
                Err(error) => panic!("unexpected error: {error:?}"),
            }
        }
        assert_eq!(consumed, 1, "a recovery code works once");
        assert_eq!(unused_codes(&db.db, ada.id).await, sorted(&recovery[1..]));
    }
);

db_test!(replaced_recovery_codes_stop_working, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let old = codes("old", 3);
    enabled(&repo, ada.id, &sealed("live"), &old).await;
    let now = fixtures::now() + Duration::minutes(1);
    assert!(
        repo.consume_recovery_code(ada.id, &old[0], now)
            .await
            .expect("consume")
    );

    let new = codes("new", 3);
    let event = audit(AuditEventType::RecoveryCodesRegenerated, ada.id);
    assert!(
        repo.replace_recovery_codes(ada.id, &new, now, &event)
            .await
            .expect("replace")
    );
    let rows = code_rows(&db.db, ada.id).await;
    assert_eq!(
        rows.iter().map(|r| r.code_hash.clone()).collect::<Vec<_>>(),
        sorted(&new),
        "only the new codes are left, used ones included"
    );
    assert!(rows.iter().all(|r| r.used_at.is_none()));
    assert!(
        !repo
            .consume_recovery_code(ada.id, &old[1], now)
            .await
            .expect("an old code")
    );
    assert!(
        repo.consume_recovery_code(ada.id, &new[1], now)
            .await
            .expect("a new code")
    );
    assert_eq!(events(&db.db).await[0], event);
    // The factor itself is unchanged.
    assert_eq!(
        factor(&repo, ada.id).await.map(|f| (f.state, f.last_step)),
        Some((FactorState::Enabled, Some(100)))
    );
});

db_test!(
    recovery_codes_are_not_replaced_while_the_factor_is_off,
    |db| {
        let ada = stored_user(&db.db, "ada@example.com").await;
        let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
        let event = audit(AuditEventType::RecoveryCodesRegenerated, ada.id);
        let before = events(&db.db).await;

        assert!(
            !repo
                .replace_recovery_codes(ada.id, &codes("a", 3), fixtures::now(), &event)
                .await
                .expect("replace without a factor")
        );
        repo.start_enrolment(ada.id, &sealed("pending"), fixtures::now())
            .await
            .expect("start");
        assert!(
            !repo
                .replace_recovery_codes(ada.id, &codes("b", 3), fixtures::now(), &event)
                .await
                .expect("replace with a pending factor")
        );
        assert!(code_rows(&db.db, ada.id).await.is_empty());
        assert_eq!(events(&db.db).await, before);
    }
);

db_test!(
    replace_recovery_codes_stores_its_event_in_its_transaction,
    |db| {
        let ada = stored_user(&db.db, "ada@example.com").await;
        let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
        let old = codes("old", 3);
        enabled(&repo, ada.id, &sealed("live"), &old).await;
        let taken = fixtures::event();
        SeaOrmAuditLog::new(db.db.clone())
            .record(&taken)
            .await
            .expect("record");
        let clash = AuditEvent {
            id: taken.id,
            ..audit(AuditEventType::RecoveryCodesRegenerated, ada.id)
        };

        let result = repo
            .replace_recovery_codes(ada.id, &codes("new", 3), fixtures::now(), &clash)
            .await;
        assert!(
            matches!(result, Err(StorageError::Unexpected(_))),
            "{result:?}"
        );
        assert_eq!(unused_codes(&db.db, ada.id).await, sorted(&old));
    }
);

db_test!(disable_removes_an_enabled_factor_and_its_codes, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let grace = stored_user(&db.db, "grace@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    enabled(&repo, ada.id, &sealed("ada"), &codes("ada", 3)).await;
    enabled(&repo, grace.id, &sealed("grace"), &codes("grace", 3)).await;

    let event = audit(AuditEventType::MfaDisabled, ada.id);
    assert!(
        repo.disable(ada.id, fixtures::now(), &event)
            .await
            .expect("disable")
    );
    assert_eq!(factor(&repo, ada.id).await, None);
    assert!(code_rows(&db.db, ada.id).await.is_empty());
    assert!(!mfa_flag(&db.db, ada.id).await);
    assert_eq!(events(&db.db).await[0], event);
    // Grace keeps hers.
    assert!(factor(&repo, grace.id).await.is_some());
    assert_eq!(code_rows(&db.db, grace.id).await.len(), 3);
    assert!(mfa_flag(&db.db, grace.id).await);

    // Nothing left to remove: no second event.
    let before = events(&db.db).await;
    assert!(
        !repo
            .disable(
                ada.id,
                fixtures::now(),
                &audit(AuditEventType::MfaDisabled, ada.id)
            )
            .await
            .expect("disable again")
    );
    assert_eq!(events(&db.db).await, before);
});

db_test!(disabling_a_pending_factor_changes_nothing, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    repo.start_enrolment(ada.id, &sealed("pending"), fixtures::now())
        .await
        .expect("start");
    let before = events(&db.db).await;

    let removed = repo
        .disable(
            ada.id,
            fixtures::now(),
            &audit(AuditEventType::MfaDisabled, ada.id),
        )
        .await
        .expect("disable");
    assert!(!removed, "no enabled factor was removed");
    // The answer is "not enabled", so nothing changed: the enrolment the
    // user is in the middle of can still be confirmed.
    let pending = factor(&repo, ada.id).await.expect("the pending one stays");
    assert_eq!(pending.state, FactorState::Pending);
    assert!(!mfa_flag(&db.db, ada.id).await);
    assert_eq!(events(&db.db).await, before);
});

db_test!(disable_stores_its_event_in_its_transaction, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    let recovery = codes("ada", 3);
    enabled(&repo, ada.id, &sealed("live"), &recovery).await;
    let before = factor(&repo, ada.id).await;
    let taken = fixtures::event();
    SeaOrmAuditLog::new(db.db.clone())
        .record(&taken)
        .await
        .expect("record");
    let clash = AuditEvent {
        id: taken.id,
        ..audit(AuditEventType::MfaDisabled, ada.id)
    };

    let result = repo.disable(ada.id, fixtures::now(), &clash).await;
    assert!(
        matches!(result, Err(StorageError::Unexpected(_))),
        "{result:?}"
    );
    assert_eq!(factor(&repo, ada.id).await, before);
    assert_eq!(unused_codes(&db.db, ada.id).await, sorted(&recovery));
    assert!(mfa_flag(&db.db, ada.id).await);
});

db_test!(any_enabled_follows_the_enabled_factors, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmSecondFactorRepository::new(db.db.clone());
    assert!(!repo.any_enabled().await.expect("any"));

    repo.start_enrolment(ada.id, &sealed("pending"), fixtures::now())
        .await
        .expect("start");
    assert!(!repo.any_enabled().await.expect("any"), "pending is not on");

    repo.enable(
        ada.id,
        &sealed("pending"),
        1,
        &[],
        fixtures::now(),
        &audit(AuditEventType::MfaEnabled, ada.id),
    )
    .await
    .expect("enable");
    assert!(repo.any_enabled().await.expect("any"));

    repo.disable(
        ada.id,
        fixtures::now(),
        &audit(AuditEventType::MfaDisabled, ada.id),
    )
    .await
    .expect("disable");
    assert!(!repo.any_enabled().await.expect("any"));
});

db_test!(
    deleting_the_user_removes_factor_codes_and_challenges,
    |db| {
        let ada = stored_user(&db.db, "ada@example.com").await;
        let grace = stored_user(&db.db, "grace@example.com").await;
        let factors = SeaOrmSecondFactorRepository::new(db.db.clone());
        let challenges = SeaOrmMfaChallengeRepository::new(db.db.clone());
        for user in [&ada, &grace] {
            enabled(
                &factors,
                user.id,
                &sealed("live"),
                &codes(user.email.as_str(), 3),
            )
            .await;
            challenges
                .insert(&challenge(user.id, fixtures::now()))
                .await
                .expect("insert a challenge");
        }

        let deleted = SeaOrmUserRepository::new(db.db.clone())
            .delete(ada.id, &audit(AuditEventType::AccountDeleted, ada.id))
            .await
            .expect("delete");
        assert!(deleted);
        assert_eq!(factor(&factors, ada.id).await, None);
        assert!(code_rows(&db.db, ada.id).await.is_empty());
        assert_eq!(challenge_rows(&db.db, ada.id).await, 0);
        // Grace's are untouched.
        assert!(factor(&factors, grace.id).await.is_some());
        assert_eq!(code_rows(&db.db, grace.id).await.len(), 3);
        assert_eq!(challenge_rows(&db.db, grace.id).await, 1);
    }
);

// --- SeaOrmMfaChallengeRepository -------------------------------------------

/// A challenge of `user` answered from `now` on, for the usual lifetime.
fn challenge(user: UserId, now: DateTime<Utc>) -> MfaChallenge {
    MfaChallenge {
        id: Uuid::now_v7(),
        user_id: user,
        hash: TokenHash::of(&Uuid::new_v4().to_string()),
        created_at: now,
        expires_at: now + MFA_TOKEN_TTL,
    }
}

/// How many challenges `user` has, used or not.
async fn challenge_rows(db: &DatabaseConnection, user: UserId) -> u64 {
    mfa_challenge::Entity::find()
        .filter(mfa_challenge::Column::UserId.eq(user.0))
        .count(db)
        .await
        .expect("count challenges")
}

db_test!(a_challenge_is_found_by_its_hash, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let grace = stored_user(&db.db, "grace@example.com").await;
    let repo = SeaOrmMfaChallengeRepository::new(db.db.clone());
    let now = fixtures::now();
    let of_ada = challenge(ada.id, now);
    let of_grace = challenge(grace.id, now);
    repo.insert(&of_ada).await.expect("insert");
    repo.insert(&of_grace).await.expect("insert");

    for stored in [of_ada, of_grace] {
        assert_eq!(
            repo.find_valid(&stored.hash, now).await.expect("find"),
            Some(stored.clone())
        );
    }
    assert_eq!(
        repo.find_valid(&TokenHash::of("unknown"), now)
            .await
            .expect("find"),
        None
    );
});

db_test!(a_challenge_of_a_missing_user_is_an_error, |db| {
    let repo = SeaOrmMfaChallengeRepository::new(db.db.clone());
    let result = repo
        .insert(&challenge(UserId(Uuid::now_v7()), fixtures::now()))
        .await;
    assert!(
        matches!(result, Err(StorageError::Unexpected(_))),
        "{result:?}"
    );
});

db_test!(an_expired_challenge_is_neither_found_nor_consumed, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmMfaChallengeRepository::new(db.db.clone());
    let stored = challenge(ada.id, fixtures::now());
    repo.insert(&stored).await.expect("insert");
    let last_moment = stored.expires_at - Duration::microseconds(1);

    assert_eq!(
        repo.find_valid(&stored.hash, last_moment)
            .await
            .expect("find"),
        Some(stored.clone())
    );
    for late in [stored.expires_at, stored.expires_at + Duration::hours(1)] {
        assert_eq!(
            repo.find_valid(&stored.hash, late).await.expect("find"),
            None
        );
        assert!(!repo.consume(stored.id, late).await.expect("consume"));
    }
    // Refusing the late ones used nothing up.
    assert!(repo.consume(stored.id, last_moment).await.expect("consume"));
});

db_test!(a_challenge_is_consumed_once, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmMfaChallengeRepository::new(db.db.clone());
    let now = fixtures::now();
    let stored = challenge(ada.id, now);
    let other = challenge(ada.id, now);
    repo.insert(&stored).await.expect("insert");
    repo.insert(&other).await.expect("insert");

    assert!(repo.consume(stored.id, now).await.expect("consume"));
    assert_eq!(
        repo.find_valid(&stored.hash, now).await.expect("find"),
        None
    );
    assert!(!repo.consume(stored.id, now).await.expect("consume again"));
    assert!(!repo.consume(Uuid::now_v7(), now).await.expect("unknown"));
    // Only that one was used.
    assert_eq!(
        repo.find_valid(&other.hash, now).await.expect("find"),
        Some(other)
    );
});

db_test!(
    concurrent_consumes_of_a_challenge_let_exactly_one_through,
    |db| {
        let ada = stored_user(&db.db, "ada@example.com").await;
        let repo = SeaOrmMfaChallengeRepository::new(db.db.clone());
        let now = fixtures::now();
        let stored = challenge(ada.id, now);
        repo.insert(&stored).await.expect("insert");

        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (repo, start) = (repo.clone(), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    repo.consume(stored.id, now).await
                })
            })
            .collect();
        let mut consumed = 0;
        for racer in racers {
            match racer.await.expect("the racer did not panic") {
                Ok(true) => consumed += 1,
                Ok(false) => {}
                Err(error) => panic!("unexpected error: {error:?}"),
            }
        }
        assert_eq!(consumed, 1, "a challenge is answered once");
    }
);

db_test!(purge_deletes_challenges_expired_before_the_cutoff, |db| {
    let ada = stored_user(&db.db, "ada@example.com").await;
    let repo = SeaOrmMfaChallengeRepository::new(db.db.clone());
    let cutoff = fixtures::now();
    let expired_used = challenge(ada.id, cutoff - Duration::hours(1));
    let expired_unused = challenge(ada.id, cutoff - Duration::hours(1));
    let expiring_now = challenge(ada.id, cutoff - MFA_TOKEN_TTL);
    let live = challenge(ada.id, cutoff);
    for stored in [&expired_used, &expired_unused, &expiring_now, &live] {
        repo.insert(stored).await.expect("insert");
    }
    assert!(
        repo.consume(expired_used.id, expired_used.created_at)
            .await
            .expect("consume")
    );

    assert_eq!(repo.purge(cutoff).await.expect("purge"), 2);
    let mut left: Vec<Uuid> = mfa_challenge::Entity::find()
        .all(&db.db)
        .await
        .expect("read")
        .into_iter()
        .map(|row| row.id)
        .collect();
    left.sort();
    let mut kept = vec![expiring_now.id, live.id];
    kept.sort();
    assert_eq!(left, kept, "only those expired before the cutoff go");
    assert_eq!(
        repo.find_valid(&live.hash, cutoff).await.expect("find"),
        Some(live)
    );
    assert_eq!(repo.purge(cutoff).await.expect("purge again"), 0);
});

db_test!(
    a_new_password_drops_the_pending_challenges_of_its_user,
    |db| {
        use auth_domain::user::{PasswordChange, PasswordHash};

        let ada = stored_user(&db.db, "ada@example.com").await;
        let grace = stored_user(&db.db, "grace@example.com").await;
        let users = SeaOrmUserRepository::new(db.db.clone());
        let repo = SeaOrmMfaChallengeRepository::new(db.db.clone());
        let now = fixtures::now();
        let of_ada = challenge(ada.id, now);
        let of_grace = challenge(grace.id, now);
        repo.insert(&of_ada).await.expect("insert");
        repo.insert(&of_grace).await.expect("insert");

        // A rehash of the same password keeps the challenge.
        let rehashed = PasswordHash::new(format!("{}-rehashed", fixtures::PHC));
        users
            .update_password_hash(ada.id, &rehashed, now, None, PasswordChange::Rehash)
            .await
            .expect("rehash");
        assert_eq!(
            repo.find_valid(&of_ada.hash, now).await.expect("find"),
            Some(of_ada.clone())
        );

        // A new password drops it, and it cannot be handed back either.
        let new = PasswordHash::new(format!("{}-new", fixtures::PHC));
        users
            .update_password_hash(
                ada.id,
                &new,
                now,
                Some(fixtures::event()),
                PasswordChange::NewPassword { keep: None },
            )
            .await
            .expect("new password");
        assert_eq!(
            repo.find_valid(&of_ada.hash, now).await.expect("find"),
            None
        );
        assert!(!repo.consume(of_ada.id, now).await.expect("consume"));
        repo.release(of_ada.id).await.expect("release");
        assert_eq!(
            repo.find_valid(&of_ada.hash, now).await.expect("find"),
            None
        );
        assert_eq!(challenge_rows(&db.db, ada.id).await, 0);
        // Another user's challenge stays.
        assert_eq!(
            repo.find_valid(&of_grace.hash, now).await.expect("find"),
            Some(of_grace)
        );
    }
);
