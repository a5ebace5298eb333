//! Unit tests of the session use-cases (refresh, logout, listing, revoking
//! and purging), every port mocked and time set through the mocked clock.
//!
//! As in `tests.rs`, a mock method without an expectation panics when called,
//! and `times(..)` are checked when the service is dropped.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use mockall::predicate::eq;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::RefreshError;
use crate::testing::*;

/// The refresh token the client presents.
pub(super) const PRESENTED: &str = "pReSeNtEd_rEfReSh-0123456789abcdefghijklmnop";
pub(super) const PRESENTED_ID: RefreshTokenId = RefreshTokenId(Uuid::from_u128(0x0301));
/// The refresh token the service generates to replace it.
pub(super) const NEW_REFRESH_TOKEN: &str = "nEw_rEfReSh_tOkEn-0123456789abcdefghijklmnop";
pub(super) const REPLACEMENT_ID: RefreshTokenId = RefreshTokenId(Uuid::from_u128(0x0302));

/// The presented token: issued an hour before `now()`, expiring in six days,
/// rotated at `rotated_at` if at all.
pub(super) fn presented(rotated_at: Option<DateTime<Utc>>) -> RefreshToken {
    RefreshToken {
        id: PRESENTED_ID,
        session_id: SESSION_ID,
        hash: TokenHash::of(PRESENTED),
        created_at: now() - TimeDelta::hours(1),
        expires_at: now() + TimeDelta::days(6),
        rotated_at,
    }
}

/// The live session of `USER_ID` the presented token belongs to, with its
/// active user.
pub(super) fn found(token: RefreshToken) -> Option<(RefreshToken, Session, User)> {
    Some((token, session(SESSION_ID, USER_ID), user(USER_ID, true)))
}

/// What a replacement issued at `at` must look like.
pub(super) fn replacement_at(at: DateTime<Utc>, tokens: &IssuedTokens) -> RefreshToken {
    RefreshToken {
        id: REPLACEMENT_ID,
        session_id: SESSION_ID,
        hash: TokenHash::of(tokens.refresh_token.expose_secret()),
        created_at: at,
        expires_at: at + settings().refresh_ttl,
        rotated_at: None,
    }
}

impl Mocks {
    /// The hot path (`rotate_live`) is tried once for the hash of
    /// `PRESENTED` at the mocked time and answers `outcome`; returns the
    /// draft it was given.
    pub(super) fn expect_rotate_live(
        &mut self,
        outcome: Option<(Session, User)>,
    ) -> Captured<RefreshTokenDraft> {
        let at = self.now;
        let captured = Captured::default();
        let sink = Arc::clone(&captured);
        self.sessions
            .expect_rotate_live()
            .withf(move |used, _, now| *used == TokenHash::of(PRESENTED) && *now == at)
            .times(1)
            .return_once(move |_, draft, _| {
                *sink.lock().expect("lock not poisoned") = Some(draft.clone());
                Ok(outcome)
            });
        captured
    }

    /// The hot path finds no live token, so the session store is asked once
    /// for the hash of `PRESENTED`.
    pub(super) fn expect_find_refresh_token(
        &mut self,
        found: Option<(RefreshToken, Session, User)>,
    ) {
        self.expect_rotate_live(None);
        self.sessions
            .expect_find_refresh_token()
            .with(eq(TokenHash::of(PRESENTED)))
            .times(1)
            .return_once(move |_| Ok(found));
    }

    /// One replacement refresh token (`NEW_REFRESH_TOKEN`, `REPLACEMENT_ID`)
    /// is generated and one access token issued; returns the issued claims.
    pub(super) fn expect_pair_issued(&mut self) -> Captured<AccessClaims> {
        self.secrets
            .expect_generate()
            .times(1)
            .return_once(|| NEW_REFRESH_TOKEN.to_owned());
        self.expect_ids(&[REPLACEMENT_ID.0, TOKEN_ID]);
        let issued = Captured::default();
        let sink = Arc::clone(&issued);
        self.issuer
            .expect_issue()
            .times(1)
            .returning(move |claims| {
                *sink.lock().expect("lock not poisoned") = Some(claims.clone());
                Ok(ACCESS_TOKEN.to_owned())
            });
        issued
    }

    /// `rotate` is called once for `PRESENTED_ID` at the mocked time and
    /// answers `outcome`; returns the replacement it was given.
    pub(super) fn expect_rotate(&mut self, outcome: bool) -> Captured<RefreshToken> {
        let at = self.now;
        let captured = Captured::default();
        let sink = Arc::clone(&captured);
        self.sessions
            .expect_rotate()
            .withf(move |used, _, now| *used == PRESENTED_ID && *now == at)
            .times(1)
            .returning(move |_, replacement, _| {
                *sink.lock().expect("lock not poisoned") = Some(replacement.clone());
                Ok(outcome)
            });
        captured
    }

    /// The session store is asked for the hash of `PRESENTED` twice, as
    /// by a refresh that lost the rotation race: first it answers `first`,
    /// then `again`.
    pub(super) fn expect_find_refresh_token_twice(
        &mut self,
        first: Option<(RefreshToken, Session, User)>,
        again: Option<(RefreshToken, Session, User)>,
    ) {
        self.expect_rotate_live(None);
        let mut sequence = mockall::Sequence::new();
        for found in [first, again] {
            self.sessions
                .expect_find_refresh_token()
                .with(eq(TokenHash::of(PRESENTED)))
                .times(1)
                .in_sequence(&mut sequence)
                .return_once(move |_| Ok(found));
        }
    }

    /// `supersede` is called once at the mocked time and answers `outcome`;
    /// returns the token it was given.
    pub(super) fn expect_supersede(&mut self, outcome: bool) -> Captured<RefreshToken> {
        let at = self.now;
        let captured = Captured::default();
        let sink = Arc::clone(&captured);
        self.sessions
            .expect_supersede()
            .withf(move |_, now| *now == at)
            .times(1)
            .returning(move |token, _| {
                *sink.lock().expect("lock not poisoned") = Some(token.clone());
                Ok(outcome)
            });
        captured
    }

    /// A replacement is drawn (before the lookup) but no refresh token is
    /// stored, no session revoked and no access token issued.
    pub(super) fn expect_nothing_written(&mut self) {
        self.secrets
            .expect_generate()
            .times(1)
            .return_once(|| NEW_REFRESH_TOKEN.to_owned());
        self.expect_ids(&[REPLACEMENT_ID.0]);
        self.sessions.expect_insert().never();
        self.sessions.expect_rotate().never();
        self.sessions.expect_supersede().never();
        self.sessions.expect_revoke().never();
        self.sessions.expect_revoke_all().never();
        self.issuer.expect_issue().never();
    }
}

/// The access token issued by a refresh at `at`, for `USER_ID` in `SESSION_ID`.
pub(super) fn assert_access_token(claims: &AccessClaims, tokens: &IssuedTokens, at: DateTime<Utc>) {
    assert_eq!(
        *claims,
        AccessClaims {
            user_id: USER_ID,
            session_id: SESSION_ID,
            role: Role::User,
            issued_at: at,
            expires_at: at + settings().access_ttl,
            token_id: TOKEN_ID,
            amr: AuthMethods::Password,
        }
    );
    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.session_id, SESSION_ID);
    assert_eq!(tokens.refresh_token.expose_secret(), NEW_REFRESH_TOKEN);
}

/// A refresh that replays a token rotated `since_rotation` ago.
pub(super) async fn replay_within_grace(since_rotation: TimeDelta) {
    let mut mocks = Mocks::new();
    let rotated_at = now();
    mocks.now = rotated_at + since_rotation;
    let at = mocks.now;
    mocks.expect_find_refresh_token(found(presented(Some(rotated_at))));
    mocks.sessions.expect_rotate().never();
    mocks.sessions.expect_revoke().never();
    let sibling = mocks.expect_supersede(true);
    let issued = mocks.expect_pair_issued();
    let service = mocks.sessions_service();

    let tokens = service
        .refresh(PRESENTED, &client())
        .await
        .expect("a replay within the grace period gets a fresh pair");

    assert_eq!(take(&sibling), replacement_at(at, &tokens));
    assert_access_token(&take(&issued), &tokens, at);
}

// --------------------------------------------------------------- refresh

#[tokio::test]
async fn refresh_rotates_a_live_token_and_issues_a_new_pair() {
    let mut mocks = Mocks::new();
    mocks.now = now() + TimeDelta::minutes(20);
    let at = mocks.now;
    let draft = mocks.expect_rotate_live(Some((session(SESSION_ID, USER_ID), user(USER_ID, true))));
    mocks.sessions.expect_find_refresh_token().never();
    mocks.sessions.expect_rotate().never();
    mocks.sessions.expect_supersede().never();
    mocks.sessions.expect_revoke().never();
    let issued = mocks.expect_pair_issued();
    let service = mocks.sessions_service();

    let tokens = service
        .refresh(PRESENTED, &client())
        .await
        .expect("refresh succeeds");

    let replacement = take(&draft).in_session(SESSION_ID);
    assert_eq!(replacement, replacement_at(at, &tokens));
    assert_ne!(
        replacement.hash,
        TokenHash::of(PRESENTED),
        "the replacement is a new token"
    );
    assert_ne!(
        replacement.hash.as_str(),
        tokens.refresh_token.expose_secret(),
        "only the hash of the refresh token is stored"
    );
    assert_access_token(&take(&issued), &tokens, at);
}

#[tokio::test]
async fn refresh_that_loses_the_rotation_race_within_the_grace_period_supersedes_the_winner() {
    let mut mocks = Mocks::new();
    let at = mocks.now;
    mocks.expect_find_refresh_token_twice(found(presented(None)), found(presented(Some(at))));
    let rotated = mocks.expect_rotate(false);
    let superseding = mocks.expect_supersede(true);
    mocks.sessions.expect_revoke().never();
    let issued = mocks.expect_pair_issued();
    let service = mocks.sessions_service();

    let tokens = service
        .refresh(PRESENTED, &client())
        .await
        .expect("the racing request also gets a pair");

    let superseding = take(&superseding);
    assert_eq!(superseding, replacement_at(at, &tokens));
    assert_eq!(
        take(&rotated),
        superseding,
        "the same replacement is offered twice"
    );
    assert_access_token(&take(&issued), &tokens, at);
}

#[tokio::test]
async fn refresh_that_loses_the_rotation_race_without_a_grace_period_revokes_the_session() {
    let mut mocks = Mocks::new();
    mocks.grace = TimeDelta::zero();
    let at = mocks.now;
    mocks.expect_find_refresh_token_twice(found(presented(None)), found(presented(Some(at))));
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| NEW_REFRESH_TOKEN.to_owned());
    mocks.expect_ids(&[REPLACEMENT_ID.0]);
    mocks.expect_rotate(false);
    mocks.sessions.expect_supersede().never();
    mocks
        .sessions
        .expect_revoke()
        .with(eq(USER_ID), eq(SESSION_ID), eq(at))
        .times(1)
        .return_once(|_, _, _| Ok(true));
    mocks.issuer.expect_issue().never();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("a token is redeemed at most once");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_replaying_a_token_rotated_this_instant_without_a_grace_period_revokes_the_session()
{
    let mut mocks = Mocks::new();
    mocks.grace = TimeDelta::zero();
    let at = mocks.now;
    mocks.expect_find_refresh_token(found(presented(Some(at))));
    mocks
        .secrets
        .expect_generate()
        .times(..=1)
        .returning(|| NEW_REFRESH_TOKEN.to_owned());
    mocks
        .ids
        .expect_new_id()
        .times(..=1)
        .return_const(REPLACEMENT_ID.0);
    mocks.sessions.expect_rotate().never();
    mocks.sessions.expect_supersede().never();
    mocks
        .sessions
        .expect_revoke()
        .with(eq(USER_ID), eq(SESSION_ID), eq(at))
        .times(1)
        .return_once(|_, _, _| Ok(true));
    mocks.issuer.expect_issue().never();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("grace zero allows no replay");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_replaying_a_token_rotated_within_the_grace_period_supersedes_the_live_one() {
    replay_within_grace(TimeDelta::seconds(5)).await;
}

#[tokio::test]
async fn refresh_replaying_a_token_at_the_end_of_the_grace_period_is_accepted() {
    replay_within_grace(settings().refresh_reuse_grace).await;
}

#[tokio::test]
async fn refresh_replaying_a_token_after_the_grace_period_revokes_the_session() {
    let mut mocks = Mocks::new();
    let rotated_at = now();
    mocks.now = rotated_at + settings().refresh_reuse_grace + TimeDelta::seconds(1);
    let at = mocks.now;
    mocks.expect_find_refresh_token(found(presented(Some(rotated_at))));
    mocks
        .sessions
        .expect_revoke()
        .with(eq(USER_ID), eq(SESSION_ID), eq(at))
        .times(1)
        .return_once(|_, _, _| Ok(true));
    // The service may draw a replacement before it decides; it must not
    // store or hand it out.
    mocks
        .secrets
        .expect_generate()
        .times(..=1)
        .returning(|| NEW_REFRESH_TOKEN.to_owned());
    mocks
        .ids
        .expect_new_id()
        .times(..=1)
        .return_const(REPLACEMENT_ID.0);
    mocks.sessions.expect_rotate().never();
    mocks.sessions.expect_supersede().never();
    mocks.issuer.expect_issue().never();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("a late replay is theft");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_with_an_unknown_token_is_refused() {
    let mut mocks = Mocks::new();
    mocks.expect_find_refresh_token(None);
    mocks.expect_nothing_written();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("unknown token");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_with_a_token_expiring_now_is_refused() {
    let mut mocks = Mocks::new();
    let token = presented(None);
    mocks.now = token.expires_at;
    // The session itself would still be live.
    let live = Session {
        expires_at: token.expires_at + TimeDelta::days(1),
        ..session(SESSION_ID, USER_ID)
    };
    mocks.expect_find_refresh_token(Some((token, live, user(USER_ID, true))));
    mocks.expect_nothing_written();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("token expired");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_with_an_expired_token_is_refused() {
    let mut mocks = Mocks::new();
    let token = RefreshToken {
        expires_at: now() - TimeDelta::seconds(1),
        ..presented(None)
    };
    mocks.expect_find_refresh_token(found(token));
    mocks.expect_nothing_written();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("token expired");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_in_a_revoked_session_is_refused_and_writes_nothing() {
    let mut mocks = Mocks::new();
    let revoked = Session {
        revoked_at: Some(now() - TimeDelta::seconds(1)),
        ..session(SESSION_ID, USER_ID)
    };
    mocks.expect_find_refresh_token(Some((presented(None), revoked, user(USER_ID, true))));
    mocks.expect_nothing_written();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("session revoked");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_in_an_expired_session_is_refused() {
    let mut mocks = Mocks::new();
    let expiring = session(SESSION_ID, USER_ID);
    mocks.now = expiring.expires_at;
    // The token itself would still be valid.
    let token = RefreshToken {
        expires_at: expiring.expires_at + TimeDelta::days(1),
        ..presented(None)
    };
    mocks.expect_find_refresh_token(Some((token, expiring, user(USER_ID, true))));
    mocks.expect_nothing_written();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("session expired");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_of_a_disabled_user_is_refused() {
    let mut mocks = Mocks::new();
    mocks.expect_find_refresh_token(Some((
        presented(None),
        session(SESSION_ID, USER_ID),
        user(USER_ID, false),
    )));
    mocks.expect_nothing_written();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("user disabled");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_when_the_session_is_revoked_meanwhile_is_refused() {
    let mut mocks = Mocks::new();
    let revoked = Session {
        revoked_at: Some(mocks.now),
        ..session(SESSION_ID, USER_ID)
    };
    mocks.expect_find_refresh_token_twice(
        found(presented(None)),
        Some((presented(None), revoked, user(USER_ID, true))),
    );
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| NEW_REFRESH_TOKEN.to_owned());
    mocks.expect_ids(&[REPLACEMENT_ID.0]);
    mocks.expect_rotate(false);
    mocks.sessions.expect_supersede().never();
    mocks.sessions.expect_revoke().never();
    mocks.issuer.expect_issue().never();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("session revoked meanwhile");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_replaying_within_grace_after_the_session_was_revoked_is_refused() {
    let mut mocks = Mocks::new();
    mocks.expect_find_refresh_token(found(presented(Some(now() - TimeDelta::seconds(1)))));
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| NEW_REFRESH_TOKEN.to_owned());
    mocks.expect_ids(&[REPLACEMENT_ID.0]);
    mocks.sessions.expect_rotate().never();
    mocks.expect_supersede(false);
    mocks.sessions.expect_revoke().never();
    mocks.issuer.expect_issue().never();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("session revoked meanwhile");

    assert!(matches!(error, RefreshError::InvalidToken), "{error:?}");
}

#[tokio::test]
async fn refresh_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_rotate_live()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    mocks.sessions.expect_find_refresh_token().never();
    mocks.expect_nothing_written();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("storage is down");

    assert!(matches!(error, RefreshError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn refresh_when_rotation_cannot_be_stored_issues_no_token() {
    let mut mocks = Mocks::new();
    mocks.expect_find_refresh_token(found(presented(None)));
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| NEW_REFRESH_TOKEN.to_owned());
    mocks.expect_ids(&[REPLACEMENT_ID.0]);
    mocks
        .sessions
        .expect_rotate()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    mocks.sessions.expect_supersede().never();
    mocks.issuer.expect_issue().never();
    let service = mocks.sessions_service();

    let error = service
        .refresh(PRESENTED, &client())
        .await
        .expect_err("storage is down");

    assert!(matches!(error, RefreshError::Unavailable(_)), "{error:?}");
}
