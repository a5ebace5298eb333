use auth_domain::session::{AuthMethods, ClientInfo, Session, SessionId};
use auth_domain::user::{Email, PasswordHash, Role, User, UserId};
use chrono::{TimeZone as _, Utc};
use uuid::Uuid;

use super::*;

fn user(id: UserId) -> User {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid");
    User {
        id,
        email: Email::parse("ada@example.com").expect("valid"),
        display_name: None,
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        email_verified: false,
        role: Role::User,
        is_active: true,
        mfa_enabled: false,
        created_at: at,
        updated_at: at,
    }
}

fn session(id: SessionId, user: UserId) -> Session {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid");
    Session {
        id,
        user_id: user,
        created_at: at,
        last_used_at: at,
        expires_at: at + chrono::TimeDelta::days(30),
        revoked_at: None,
        client: ClientInfo::default(),
        amr: AuthMethods::default(),
    }
}

fn cache() -> Arc<SessionCache> {
    SessionCache::local(Duration::from_secs(60), 100)
}

fn ids() -> (SessionId, UserId) {
    (SessionId(Uuid::now_v7()), UserId(Uuid::now_v7()))
}

#[test]
fn a_stored_pair_is_served_until_its_session_is_invalidated() {
    let cache = cache();
    let (sid, uid) = ids();
    cache.store(cache.epoch(), session(sid, uid), user(uid));
    assert!(cache.get(sid).is_some());
    cache.forget(Invalidation::Session(sid));
    assert!(cache.get(sid).is_none());
}

#[test]
fn invalidating_a_user_drops_every_session_of_theirs_at_once() {
    let cache = cache();
    let uid = UserId(Uuid::now_v7());
    let other = UserId(Uuid::now_v7());
    let mine: Vec<_> = (0..5).map(|_| SessionId(Uuid::now_v7())).collect();
    for sid in &mine {
        cache.store(cache.epoch(), session(*sid, uid), user(uid));
    }
    let theirs = SessionId(Uuid::now_v7());
    cache.store(cache.epoch(), session(theirs, other), user(other));
    cache.forget(Invalidation::User(uid));
    for sid in &mine {
        assert!(
            cache.get(*sid).is_none(),
            "a session of the invalidated user"
        );
    }
    assert!(cache.get(theirs).is_some(), "another user's session stays");
}

#[test]
fn a_read_that_raced_an_invalidation_is_not_kept() {
    let cache = cache();
    let (sid, uid) = ids();
    // The read noted the epoch, then a revocation committed and invalidated
    // before the read stored what it had seen.
    let epoch = cache.epoch();
    cache.forget(Invalidation::User(uid));
    cache.store(epoch, session(sid, uid), user(uid));
    assert!(cache.get(sid).is_none());
}

#[test]
fn an_untrusted_cache_is_bypassed_and_a_disabled_one_holds_nothing() {
    let cache = cache();
    let (sid, uid) = ids();
    cache.store(cache.epoch(), session(sid, uid), user(uid));
    cache.set_trusted(false);
    assert!(cache.get(sid).is_none());
    cache.set_trusted(true);
    assert!(cache.get(sid).is_some());

    let off = SessionCache::disabled();
    off.store(off.epoch(), session(sid, uid), user(uid));
    off.set_trusted(true);
    assert!(off.get(sid).is_none());
}

#[test]
fn payloads_round_trip_and_garbage_is_refused() {
    let (sid, uid) = ids();
    for change in [Invalidation::Session(sid), Invalidation::User(uid)] {
        assert_eq!(Invalidation::parse(&change.payload()), Some(change));
    }
    for garbage in [
        "",
        "x",
        "s:",
        "s:not-a-uuid",
        "q:0190d5a4-0000-7000-8000-000000000000",
    ] {
        assert_eq!(Invalidation::parse(garbage), None, "{garbage}");
    }
}
