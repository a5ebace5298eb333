//! `SeaOrmAuditLog`, and the events the user repository writes in the
//! transaction of its changes.

use auth_domain::audit::{
    AuditDetails, AuditEvent, AuditEventType, AuditFilter, AuditLog as _, DetailValue,
};
use auth_domain::common::{Cursor, PageRequest};
use auth_domain::user::{
    AccessChanges, AccessUpdate, CreateUserError, PasswordChange, Role, UserId, UserRepository as _,
};
use auth_infra::db_test;
use auth_infra::sea_orm::{SeaOrmAuditLog, SeaOrmUserRepository};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::fixtures;

fn event(kind: AuditEventType, user: Option<UserId>, at: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        kind,
        user_id: user,
        created_at: at,
        ..fixtures::event()
    }
}

/// Every stored event, newest first.
async fn all(log: &SeaOrmAuditLog) -> Vec<AuditEvent> {
    log.list(
        AuditFilter::default(),
        PageRequest {
            limit: 100,
            after: None,
        },
    )
    .await
    .expect("list")
    .items
}

db_test!(an_event_round_trips_with_nested_details, |db| {
    let log = SeaOrmAuditLog::new(db.db.clone());
    let stored = AuditEvent {
        kind: AuditEventType::AccountUpdated,
        user_id: Some(UserId(Uuid::now_v7())),
        actor_id: Some(UserId(Uuid::now_v7())),
        ip: Some("2001:db8::1".into()),
        user_agent: Some("tests/1.0 \"quoted\"".into()),
        details: AuditDetails::new()
            .with(
                "role",
                AuditDetails::new().with("from", "user").with("to", "admin"),
            )
            .with("count", -2_i64)
            .with("all", true)
            .with("email", "nul\u{0}and\u{7f}é"),
        ..fixtures::event()
    };
    log.record(&stored).await.expect("record");
    assert_eq!(all(&log).await, vec![stored]);
});

db_test!(changes_store_their_events_in_their_transaction, |db| {
    let users = SeaOrmUserRepository::new(db.db.clone());
    let log = SeaOrmAuditLog::new(db.db.clone());
    let ada = fixtures::user("ada@example.com");
    let signup = event(AuditEventType::Signup, Some(ada.id), fixtures::now());
    users.insert(&ada, &signup).await.expect("insert");
    let verified = event(AuditEventType::EmailVerified, Some(ada.id), fixtures::now());
    assert!(
        users
            .set_email_verified(ada.id, fixtures::now(), &verified)
            .await
            .expect("verify")
    );
    let changed = event(
        AuditEventType::PasswordChanged,
        Some(ada.id),
        fixtures::now(),
    );
    assert!(
        users
            .update_password_hash(
                ada.id,
                &ada.password_hash,
                fixtures::now(),
                Some(changed.clone()),
                PasswordChange::NewPassword { keep: None },
            )
            .await
            .expect("change")
            .is_some()
    );
    // A hash upgrade records nothing.
    assert!(
        users
            .update_password_hash(
                ada.id,
                &ada.password_hash,
                fixtures::now(),
                None,
                PasswordChange::Rehash,
            )
            .await
            .expect("upgrade")
            .is_some()
    );
    let updated = event(
        AuditEventType::AccountUpdated,
        Some(ada.id),
        fixtures::now(),
    );
    let AccessUpdate::Updated { before, after } = users
        .update_access(
            ada.id,
            AccessChanges {
                is_active: Some(true),
                role: Some(Role::User),
            },
            fixtures::now(),
            Some(updated.clone()),
        )
        .await
        .expect("update")
    else {
        panic!("updated");
    };
    let deleted = event(
        AuditEventType::AccountDeleted,
        Some(ada.id),
        fixtures::now(),
    );
    assert!(users.delete(ada.id, &deleted).await.expect("delete"));
    assert_eq!(users.find_by_id(ada.id).await.expect("find"), None);

    let mut stored = all(&log).await;
    stored.sort_by_key(|e| e.id);
    let with_changes = updated.with_access_changes(&before, &after);
    assert_eq!(
        with_changes.details.get("role"),
        Some(&DetailValue::Object(
            AuditDetails::new().with("from", "admin").with("to", "user")
        ))
    );
    assert_eq!(
        stored,
        vec![signup, verified, changed, with_changes, deleted],
        "every event stays, the deletion's too"
    );
});

db_test!(a_failing_change_leaves_no_event, |db| {
    let users = SeaOrmUserRepository::new(db.db.clone());
    let log = SeaOrmAuditLog::new(db.db.clone());
    let ada = fixtures::user("ada@example.com");
    users
        .insert(&ada, &fixtures::event())
        .await
        .expect("insert");
    let before = all(&log).await.len();

    let twin = fixtures::user("ADA@example.com");
    assert!(matches!(
        users.insert(&twin, &fixtures::event()).await,
        Err(CreateUserError::EmailTaken)
    ));
    let nobody = UserId(Uuid::now_v7());
    assert!(
        users
            .update_password_hash(
                nobody,
                &ada.password_hash,
                fixtures::now(),
                Some(fixtures::event()),
                PasswordChange::NewPassword { keep: None },
            )
            .await
            .expect("no row")
            .is_none()
    );
    assert!(
        !users
            .set_email_verified(nobody, fixtures::now(), &fixtures::event())
            .await
            .expect("no row")
    );
    assert!(
        !users
            .delete(nobody, &fixtures::event())
            .await
            .expect("no row")
    );
    // Ada is the only active admin: disabling her is refused.
    assert!(
        users
            .update_access(
                ada.id,
                AccessChanges {
                    is_active: Some(true),
                    role: None,
                },
                fixtures::now(),
                None,
            )
            .await
            .map(|u| matches!(u, AccessUpdate::Updated { .. }))
            .expect("enable")
    );
    assert_eq!(
        users
            .update_access(
                ada.id,
                AccessChanges {
                    is_active: Some(false),
                    role: None,
                },
                fixtures::now(),
                Some(fixtures::event()),
            )
            .await
            .expect("refused"),
        AccessUpdate::LastAdmin
    );
    assert_eq!(
        users
            .update_access(
                nobody,
                AccessChanges::default(),
                fixtures::now(),
                Some(fixtures::event()),
            )
            .await
            .expect("no row"),
        AccessUpdate::NotFound
    );
    assert_eq!(all(&log).await.len(), before, "no event without its change");
});

db_test!(
    events_are_listed_newest_first_by_keyset_with_filters,
    |db| {
        let log = SeaOrmAuditLog::new(db.db.clone());
        let (ada, grace) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        let start = fixtures::now();
        let mut recorded = Vec::new();
        for i in 0..25_i64 {
            // Pairs share an instant: the id breaks the tie.
            let at = start + Duration::seconds(i / 2);
            let (user, kind) = if i % 3 == 0 {
                (Some(grace), AuditEventType::LoginFailed)
            } else if i % 3 == 1 {
                (Some(ada), AuditEventType::LoginSucceeded)
            } else {
                (None, AuditEventType::LoginFailed)
            };
            let e = event(kind, user, at);
            log.record(&e).await.expect("record");
            recorded.push(e);
        }
        recorded.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));

        let pages = |filter: AuditFilter| {
            let log = log.clone();
            async move {
                let mut seen = Vec::new();
                let mut after: Option<Cursor> = None;
                loop {
                    let page = log
                        .list(filter, PageRequest { limit: 4, after })
                        .await
                        .expect("page");
                    assert!(page.items.len() <= 4);
                    seen.extend(page.items);
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
                seen
            }
        };
        assert_eq!(pages(AuditFilter::default()).await, recorded);
        let of_ada: Vec<_> = recorded
            .iter()
            .filter(|e| e.user_id == Some(ada))
            .cloned()
            .collect();
        assert_eq!(
            pages(AuditFilter {
                user_id: Some(ada),
                kind: None,
            })
            .await,
            of_ada
        );
        let failed: Vec<_> = recorded
            .iter()
            .filter(|e| e.kind == AuditEventType::LoginFailed)
            .cloned()
            .collect();
        assert_eq!(
            pages(AuditFilter {
                user_id: None,
                kind: Some(AuditEventType::LoginFailed),
            })
            .await,
            failed
        );
        assert!(
            pages(AuditFilter {
                user_id: Some(grace),
                kind: Some(AuditEventType::LoginSucceeded),
            })
            .await
            .is_empty()
        );
    }
);

db_test!(the_purge_deletes_only_older_events, |db| {
    let log = SeaOrmAuditLog::new(db.db.clone());
    let now = fixtures::now();
    let old = event(AuditEventType::Logout, None, now - Duration::days(91));
    let edge = event(AuditEventType::Logout, None, now - Duration::days(90));
    let fresh = event(AuditEventType::Logout, None, now);
    for e in [&old, &edge, &fresh] {
        log.record(e).await.expect("record");
    }
    assert_eq!(log.purge(now - Duration::days(90)).await.expect("purge"), 1);
    assert_eq!(all(&log).await, vec![fresh, edge]);
});
