//! Unit tests of `AdminService`, every port mocked: the last-admin rule, and
//! disabling an account (whose sessions the repository revokes in the same
//! write: the adapter tests show that).
//!
//! A mock method without an expectation panics when called; `.never()`
//! spells out the calls that must not happen.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mockall::predicate::{always, eq};
use uuid::Uuid;

use super::{
    AccessChanges, AccessUpdate, AdminError, AdminService, Email, MockUserRepository, PasswordHash,
    Role, User, UserId,
};
use crate::audit::{AuditEventType, Origin};
use crate::common::{MockClock, Page, PageRequest};
use crate::session::ClientInfo;
use crate::testing::AuditSink;

const ADMIN_ID: UserId = UserId(Uuid::from_u128(0x0009));

/// The administrator making the change, from their browser.
fn origin() -> Origin {
    Origin::user(
        ADMIN_ID,
        ClientInfo {
            user_agent: Some("admin-console/1.0".into()),
            ip: Some("198.51.100.4".into()),
        },
    )
}

const USER_ID: UserId = UserId(Uuid::from_u128(0x0001));
const STORED_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RvcmVk$stored";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
        .single()
        .expect("valid timestamp")
}

fn email() -> Email {
    Email::parse("ada@example.com").expect("valid e-mail address")
}

fn user(role: Role, is_active: bool) -> User {
    let created_at = now() - TimeDelta::days(100);
    User {
        id: USER_ID,
        email: email(),
        password_hash: PasswordHash::new(STORED_HASH.into()),
        display_name: None,
        email_verified: true,
        role,
        is_active,
        mfa_enabled: false,
        created_at,
        updated_at: created_at,
    }
}

fn page() -> PageRequest {
    PageRequest {
        limit: 20,
        after: None,
    }
}

fn disable() -> AccessChanges {
    AccessChanges {
        is_active: Some(false),
        role: None,
    }
}

fn enable() -> AccessChanges {
    AccessChanges {
        is_active: Some(true),
        role: None,
    }
}

fn set_role(role: Role) -> AccessChanges {
    AccessChanges {
        is_active: None,
        role: Some(role),
    }
}

struct Mocks {
    users: MockUserRepository,
    /// How many active administrators the store holds, when the change must
    /// keep one (the repository enforces the rule atomically).
    admins: Option<u64>,
    current: Option<User>,
    audit: AuditSink,
}

impl Mocks {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            admins: None,
            current: None,
            audit: AuditSink::default(),
        }
    }

    fn service(self) -> AdminService {
        let clock = || {
            let mut clock = MockClock::new();
            clock.expect_now().return_const(now());
            clock
        };
        AdminService::new(
            Arc::new(self.users),
            Arc::new(clock()),
            self.audit.auditor(Arc::new(clock())),
        )
    }

    /// `find_by_id(USER_ID)` answers `found` (at most once: updates read the
    /// row inside the repository's transaction instead), and `found` is the
    /// row an update starts from.
    fn expect_find(&mut self, found: Option<User>) {
        self.current = found.clone();
        self.users
            .expect_find_by_id()
            .with(eq(USER_ID))
            .times(0..=1)
            .return_once(move |_| Ok(found));
    }

    /// The store holds `count` active administrators.
    fn expect_admin_count(&mut self, count: u64) {
        self.admins = Some(count);
    }

    /// The number of administrators does not matter to the change.
    fn expect_no_count(&mut self) {
        self.admins = None;
    }

    /// `update_access(USER_ID, _, now)` is called once and writes
    /// `is_active` and `role`.
    fn expect_update(&mut self, is_active: bool, role: Role) {
        let before = self.current.clone().expect("expect_find first");
        let after = User {
            is_active,
            role,
            updated_at: now(),
            ..before.clone()
        };
        self.users
            .expect_update_access()
            .with(eq(USER_ID), always(), eq(now()), always())
            .times(1)
            .return_once(move |_, _, _, _| {
                Ok(AccessUpdate::Updated {
                    before: Box::new(before),
                    after: Box::new(after),
                })
            });
    }

    /// Nothing is written: either nothing is asked, or the store refuses
    /// because no other active administrator exists.
    fn expect_no_update(&mut self) {
        match self.admins {
            Some(count) if count <= 1 => {
                self.users
                    .expect_update_access()
                    .with(eq(USER_ID), always(), eq(now()), always())
                    .times(1)
                    .returning(|_, _, _, _| Ok(AccessUpdate::LastAdmin));
            }
            _ => {
                self.users.expect_update_access().never();
            }
        }
    }
}

// --- the last-admin rule --------------------------------------------------

#[tokio::test]
async fn demoting_the_last_active_admin_is_refused() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, true)));
    mocks.expect_admin_count(1);
    mocks.expect_no_update();
    let error = mocks
        .service()
        .update_access(&origin(), USER_ID, set_role(Role::User))
        .await
        .expect_err("last admin");
    assert!(matches!(error, AdminError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn disabling_the_last_active_admin_is_refused() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, true)));
    mocks.expect_admin_count(1);
    mocks.expect_no_update();
    let error = mocks
        .service()
        .update_access(&origin(), USER_ID, disable())
        .await
        .expect_err("last admin");
    assert!(matches!(error, AdminError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn disabling_and_demoting_the_last_active_admin_at_once_is_refused() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, true)));
    mocks.expect_admin_count(1);
    mocks.expect_no_update();
    let changes = AccessChanges {
        is_active: Some(false),
        role: Some(Role::User),
    };
    let error = mocks
        .service()
        .update_access(&origin(), USER_ID, changes)
        .await
        .expect_err("last admin");
    assert!(matches!(error, AdminError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn a_count_of_zero_is_refused_too() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, true)));
    mocks.expect_admin_count(0);
    mocks.expect_no_update();
    let error = mocks
        .service()
        .update_access(&origin(), USER_ID, disable())
        .await
        .expect_err("last admin");
    assert!(matches!(error, AdminError::LastAdmin), "{error:?}");
}

#[tokio::test]
async fn demoting_one_of_two_active_admins_succeeds() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, true)));
    mocks.expect_admin_count(2);
    mocks.expect_update(true, Role::User);
    let updated = mocks
        .service()
        .update_access(&origin(), USER_ID, set_role(Role::User))
        .await
        .expect("demoted");
    assert_eq!(updated.role, Role::User);
    assert!(updated.is_active);
    assert_eq!(updated.updated_at, now());
}

#[tokio::test]
async fn disabling_one_of_two_active_admins_succeeds() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, true)));
    mocks.expect_admin_count(2);
    mocks.expect_update(false, Role::Admin);
    let updated = mocks
        .service()
        .update_access(&origin(), USER_ID, disable())
        .await
        .expect("disabled");
    assert!(!updated.is_active);
    assert_eq!(updated.role, Role::Admin);
}

#[tokio::test]
async fn promoting_never_checks_the_admin_count() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::User, true)));
    mocks.expect_no_count();
    mocks.expect_update(true, Role::Admin);
    let updated = mocks
        .service()
        .update_access(&origin(), USER_ID, set_role(Role::Admin))
        .await
        .expect("promoted");
    assert_eq!(updated.role, Role::Admin);
}

#[tokio::test]
async fn keeping_an_active_admin_an_admin_never_checks_the_count() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, true)));
    mocks.expect_no_count();
    mocks.expect_update(true, Role::Admin);
    let changes = AccessChanges {
        is_active: Some(true),
        role: Some(Role::Admin),
    };
    mocks
        .service()
        .update_access(&origin(), USER_ID, changes)
        .await
        .expect("unchanged");
}

#[tokio::test]
async fn enabling_a_disabled_admin_never_checks_the_count_nor_revokes() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, false)));
    mocks.expect_no_count();
    mocks.expect_update(true, Role::Admin);
    let updated = mocks
        .service()
        .update_access(&origin(), USER_ID, enable())
        .await
        .expect("enabled");
    assert!(updated.is_active);
}

#[tokio::test]
async fn demoting_a_disabled_admin_never_checks_the_count() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::Admin, false)));
    mocks.expect_no_count();
    mocks.expect_update(false, Role::User);
    let updated = mocks
        .service()
        .update_access(&origin(), USER_ID, set_role(Role::User))
        .await
        .expect("demoted");
    assert_eq!(updated.role, Role::User);
    assert!(!updated.is_active);
}

// --- disabling -------------------------------------------------------------

#[tokio::test]
async fn disabling_a_user_writes_the_change_at_now() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::User, true)));
    mocks.expect_no_count();
    mocks.expect_update(false, Role::User);
    let updated = mocks
        .service()
        .update_access(&origin(), USER_ID, disable())
        .await
        .expect("disabled");
    assert!(!updated.is_active);
    assert_eq!(updated.updated_at, now());
}

#[tokio::test]
async fn re_enabling_a_user_writes_the_change() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::User, false)));
    mocks.expect_no_count();
    mocks.expect_update(true, Role::User);
    let updated = mocks
        .service()
        .update_access(&origin(), USER_ID, enable())
        .await
        .expect("enabled");
    assert!(updated.is_active);
}

#[tokio::test]
async fn disabling_an_already_disabled_user_revokes_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::User, false)));
    mocks.expect_update(false, Role::User);
    mocks
        .service()
        .update_access(&origin(), USER_ID, disable())
        .await
        .expect("still disabled");
}

// --- unknown users ----------------------------------------------------------

#[tokio::test]
async fn updating_an_unknown_id_is_not_found() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_update_access()
        .with(eq(USER_ID), eq(disable()), eq(now()), always())
        .times(1)
        .returning(|_, _, _, _| Ok(AccessUpdate::NotFound));
    let error = mocks
        .service()
        .update_access(&origin(), USER_ID, disable())
        .await
        .expect_err("not found");
    assert!(matches!(error, AdminError::NotFound), "{error:?}");
}

#[tokio::test]
async fn a_user_deleted_during_the_update_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::User, true)));
    mocks
        .users
        .expect_update_access()
        .times(1)
        .returning(|_, _, _, _| Ok(AccessUpdate::NotFound));
    let error = mocks
        .service()
        .update_access(&origin(), USER_ID, disable())
        .await
        .expect_err("not found");
    assert!(matches!(error, AdminError::NotFound), "{error:?}");
}

#[tokio::test]
async fn get_user_of_an_unknown_id_is_not_found() {
    let mut mocks = Mocks::new();
    mocks.expect_find(None);
    let error = mocks
        .service()
        .get_user(USER_ID)
        .await
        .expect_err("not found");
    assert!(matches!(error, AdminError::NotFound), "{error:?}");
}

#[tokio::test]
async fn get_user_returns_the_user() {
    let mut mocks = Mocks::new();
    mocks.expect_find(Some(user(Role::User, true)));
    let found = mocks.service().get_user(USER_ID).await.expect("found");
    assert_eq!(found, user(Role::User, true));
}

// --- list_users -------------------------------------------------------------

async fn list_with_prefix(raw: Option<&str>, expected: Option<&str>) {
    let mut mocks = Mocks::new();
    let expected = expected.map(str::to_owned);
    mocks
        .users
        .expect_list()
        .with(eq(page()), eq(expected))
        .times(1)
        .returning(|_, _| {
            Ok(Page {
                items: vec![user(Role::User, true)],
                next: None,
            })
        });
    let listed = mocks
        .service()
        .list_users(page(), raw)
        .await
        .expect("listed");
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test]
async fn list_users_lower_cases_and_trims_the_prefix() {
    list_with_prefix(Some("  Ada@Example "), Some("ada@example")).await;
}

#[tokio::test]
async fn list_users_treats_a_blank_prefix_as_none() {
    list_with_prefix(Some(""), None).await;
    list_with_prefix(Some("   "), None).await;
}

#[tokio::test]
async fn list_users_without_a_prefix_passes_none() {
    list_with_prefix(None, None).await;
}

#[tokio::test]
async fn list_users_with_a_control_character_matches_nothing_without_asking() {
    for raw in ["a\0b", "\0", "ada\u{1}"] {
        let mut mocks = Mocks::new();
        mocks.users.expect_list().never();
        let listed = mocks
            .service()
            .list_users(page(), Some(raw))
            .await
            .expect("listed");
        assert!(listed.items.is_empty() && listed.next.is_none(), "{raw:?}");
    }
}

// --- update_access_by_email -----------------------------------------------

fn role_change(role: Role) -> AccessChanges {
    AccessChanges {
        is_active: None,
        role: Some(role),
    }
}

#[tokio::test]
async fn disabling_by_email_writes_the_change() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .with(eq(email()))
        .times(1)
        .returning(|_| Ok(Some(user(Role::User, true))));
    mocks.expect_find(Some(user(Role::User, true)));
    mocks.expect_no_count();
    mocks.expect_update(false, Role::User);
    let updated = mocks
        .service()
        .update_access_by_email(
            &email(),
            AccessChanges {
                is_active: Some(false),
                role: None,
            },
        )
        .await
        .expect("disabled");
    assert!(!updated.is_active);
}

#[tokio::test]
async fn set_role_of_an_unknown_email_is_not_found() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .with(eq(email()))
        .times(1)
        .returning(|_| Ok(None));
    mocks.users.expect_find_by_id().never();
    mocks.expect_no_update();
    let error = mocks
        .service()
        .update_access_by_email(&email(), role_change(Role::Admin))
        .await
        .expect_err("not found");
    assert!(matches!(error, AdminError::NotFound), "{error:?}");
}

#[tokio::test]
async fn promoting_by_email_promotes_the_user_with_that_address() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .with(eq(email()))
        .times(1)
        .returning(|_| Ok(Some(user(Role::User, true))));
    mocks.expect_find(Some(user(Role::User, true)));
    mocks.expect_no_count();
    mocks.expect_update(true, Role::Admin);
    let updated = mocks
        .service()
        .update_access_by_email(&email(), role_change(Role::Admin))
        .await
        .expect("promoted");
    assert_eq!(updated.role, Role::Admin);
}

#[tokio::test]
async fn demoting_by_email_keeps_the_last_admin() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .with(always())
        .returning(|_| Ok(Some(user(Role::Admin, true))));
    mocks
        .users
        .expect_find_by_id()
        .returning(|_| Ok(Some(user(Role::Admin, true))));
    mocks.expect_admin_count(1);
    mocks.expect_no_update();
    let error = mocks
        .service()
        .update_access_by_email(&email(), role_change(Role::User))
        .await
        .expect_err("last admin");
    assert!(matches!(error, AdminError::LastAdmin), "{error:?}");
}

// --- the audit trail ------------------------------------------------------

#[tokio::test]
async fn an_access_change_stores_its_event_by_the_administrator() {
    let mut mocks = Mocks::new();
    let before = user(Role::User, true);
    let after = User {
        role: Role::Admin,
        updated_at: now(),
        ..before.clone()
    };
    mocks
        .users
        .expect_update_access()
        .withf(|id, _, _, event| {
            let Some(event) = event else { return false };
            *id == USER_ID
                && event.kind == AuditEventType::AccountUpdated
                && event.user_id == Some(USER_ID)
                && event.actor_id == Some(ADMIN_ID)
                && event.ip.as_deref() == Some("198.51.100.4")
                && event.user_agent.as_deref() == Some("admin-console/1.0")
                && event.created_at == now()
        })
        .times(1)
        .return_once(move |_, _, _, event| {
            // What the repository stores: the changed fields added.
            let stored = event.map(|e| e.with_access_changes(&before, &after));
            assert_eq!(
                stored.map(|e| e.details.to_string()),
                Some(r#"{"role":{"from":"user","to":"admin"}}"#.to_owned())
            );
            Ok(AccessUpdate::Updated {
                before: Box::new(before),
                after: Box::new(after),
            })
        });
    let service = mocks.service();

    service
        .update_access(&origin(), USER_ID, set_role(Role::Admin))
        .await
        .expect("promoted");
}

#[tokio::test]
async fn a_command_line_change_is_recorded_without_actor() {
    let mut mocks = Mocks::new();
    let found = user(Role::User, true);
    mocks
        .users
        .expect_find_by_email()
        .return_once(move |_| Ok(Some(found)));
    let before = user(Role::User, true);
    let after = User {
        is_active: false,
        ..before.clone()
    };
    mocks
        .users
        .expect_update_access()
        .withf(|_, _, _, event| {
            event
                .as_ref()
                .is_some_and(|e| e.actor_id.is_none() && e.ip.is_none())
        })
        .times(1)
        .return_once(move |_, _, _, _| {
            Ok(AccessUpdate::Updated {
                before: Box::new(before),
                after: Box::new(after),
            })
        });
    let service = mocks.service();

    service
        .update_access_by_email(&email(), disable())
        .await
        .expect("disabled");
}
