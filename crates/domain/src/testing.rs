//! What the use-case unit tests share: fixtures, and the mocked ports turned
//! into any of the services.
//!
//! A mock method without an expectation panics when called, so each test only
//! sets up the calls it expects; `.never()` spells out the ones that matter.
//! `times(..)` are checked when the service (and so its mocks) is dropped.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mockall::Sequence;
use mockall::predicate::eq;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

pub(crate) use crate::audit::{AuditDetails, AuditEvent, AuditEventType, Auditor, MockAuditLog};
pub(crate) use crate::auth::{
    AccessClaims, AuthPorts, AuthService, AuthSettings, IssuedTokens, LoginCommand, LoginLimits,
    MockTokenIssuer, MockTokenVerifier, PasswordGuard, SessionIssuer, SignupCommand,
};
pub(crate) use crate::common::{
    Clock, IdGenerator, MockClock, MockIdGenerator, MockRateLimiter, MockSecretGenerator,
    SecretGenerator, StorageError, TokenHash, WindowCount,
};
pub(crate) use crate::mail::MockMailer;
pub(crate) use crate::mfa::{ChallengeIssuer, MockMfaChallengeRepository};
pub(crate) use crate::recovery::{
    MailSettings, MockActionTokenRepository, RecoveryPorts, RecoveryService,
};
pub(crate) use crate::session::{
    AuthMethods, ClientInfo, MockSessionRepository, RefreshToken, RefreshTokenDraft,
    RefreshTokenId, Session, SessionId, SessionRepository, SessionService,
};
pub(crate) use crate::user::{
    AccountPorts, AccountService, DisplayName, Email, MockPasswordHasher, MockUserRepository,
    Password, PasswordHash, PasswordHasher, PasswordPolicy, PasswordVerification, Role, User,
    UserId,
};

pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const WRONG_PASSWORD: &str = "incorrect donkey";
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXk$dummy";
pub(crate) const STORED_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RvcmVk$stored";
pub(crate) const NEW_HASH: &str = "$argon2id$v=19$m=65536,t=3,p=1$bmV3$new";
pub(crate) const REFRESH_TOKEN: &str = "rEfReSh_tOkEn-0123456789abcdefghijklmnopqrs";
pub(crate) const ACCESS_TOKEN: &str = "header.payload.signature";

pub(crate) const USER_ID: UserId = UserId(Uuid::from_u128(0x0001));
pub(crate) const OTHER_USER_ID: UserId = UserId(Uuid::from_u128(0x0002));
pub(crate) const SESSION_ID: SessionId = SessionId(Uuid::from_u128(0x0101));
pub(crate) const TOKEN_ID: Uuid = Uuid::from_u128(0x0201);
pub(crate) const REFRESH_TOKEN_ID: RefreshTokenId = RefreshTokenId(Uuid::from_u128(0x0301));
/// The id of every audit event the tests' auditor builds.
pub(crate) const AUDIT_ID: Uuid = Uuid::from_u128(0x0401);

/// Not the defaults, so that a test notices when the service ignores them.
pub(crate) fn settings() -> AuthSettings {
    AuthSettings {
        access_ttl: TimeDelta::seconds(600),
        refresh_ttl: TimeDelta::days(7),
        refresh_reuse_grace: TimeDelta::seconds(10),
    }
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
        .single()
        .expect("valid timestamp")
}

pub(crate) fn email() -> Email {
    Email::parse("ada@example.com").expect("valid e-mail address")
}

pub(crate) fn client() -> ClientInfo {
    ClientInfo {
        user_agent: Some("tests/1.0".into()),
        ip: Some("192.0.2.7".into()),
    }
}

/// A client at `ip`, with no `User-Agent`.
pub(crate) fn client_at(ip: &str) -> ClientInfo {
    ClientInfo {
        user_agent: None,
        ip: Some(ip.into()),
    }
}

/// A stored user with the `STORED_HASH` password hash.
pub(crate) fn user(id: UserId, is_active: bool) -> User {
    let created_at = now() - TimeDelta::days(100);
    User {
        id,
        email: email(),
        password_hash: PasswordHash::new(STORED_HASH.into()),
        display_name: Some(DisplayName::parse("Ada").expect("valid display name")),
        email_verified: true,
        role: Role::User,
        is_active,
        mfa_enabled: false,
        created_at,
        updated_at: created_at,
    }
}

/// A live session opened an hour ago, expiring in a day.
pub(crate) fn session(id: SessionId, user_id: UserId) -> Session {
    let created_at = now() - TimeDelta::hours(1);
    Session {
        id,
        user_id,
        client: client(),
        created_at,
        last_used_at: created_at,
        expires_at: now() + TimeDelta::days(1),
        revoked_at: None,
        amr: AuthMethods::Password,
    }
}

/// The claims of a valid access token issued a minute ago.
pub(crate) fn claims(user_id: UserId, session_id: SessionId) -> AccessClaims {
    let issued_at = now() - TimeDelta::minutes(1);
    AccessClaims {
        user_id,
        session_id,
        role: Role::User,
        issued_at,
        expires_at: issued_at + settings().access_ttl,
        token_id: TOKEN_ID,
        amr: AuthMethods::Password,
    }
}

pub(crate) fn signup_command(raw_email: &str) -> SignupCommand {
    let email = Email::parse(raw_email).expect("valid e-mail address");
    let password = Password::parse(PASSWORD.into(), &PasswordPolicy::default(), Some(&email))
        .expect("password passes the policy");
    SignupCommand {
        email,
        password,
        display_name: Some(DisplayName::parse(" Ada ").expect("valid display name")),
        client: client(),
    }
}

pub(crate) fn login_command(raw_email: &str, password: &str) -> LoginCommand {
    LoginCommand {
        email: raw_email.into(),
        password: SecretString::from(password),
        client: client(),
    }
}

/// Where a mock stores the argument it was called with, for assertions after
/// the call.
pub(crate) type Captured<T> = Arc<Mutex<Option<T>>>;

pub(crate) fn take<T>(captured: &Captured<T>) -> T {
    captured
        .lock()
        .expect("lock not poisoned")
        .take()
        .expect("the mock was called")
}

/// A session as inserted: with its first refresh token and the audit event
/// stored with it.
pub(crate) type OpenedSession = (Session, RefreshToken, Option<AuditEvent>);

/// An event as the tests' auditor builds it (id [`AUDIT_ID`], at `now()`).
pub(crate) fn audit_event(
    kind: AuditEventType,
    user: Option<UserId>,
    actor: Option<UserId>,
    client: ClientInfo,
    details: AuditDetails,
) -> AuditEvent {
    AuditEvent {
        id: AUDIT_ID,
        kind,
        user_id: user,
        actor_id: actor,
        ip: client.ip,
        user_agent: client.user_agent,
        created_at: now(),
        details,
    }
}

/// The events recorded through the tests' auditor's [`MockAuditLog`] (those
/// recorded right after what they describe; the others reach the mocked
/// repositories).
#[derive(Clone, Default)]
pub(crate) struct AuditSink {
    events: Arc<Mutex<Vec<AuditEvent>>>,
    /// When set, the log refuses every event.
    pub(crate) failing: Arc<std::sync::atomic::AtomicBool>,
}

impl AuditSink {
    /// Every event recorded so far.
    pub(crate) fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().expect("lock not poisoned").clone()
    }

    /// The one event recorded; panics unless exactly one was.
    pub(crate) fn only(&self) -> AuditEvent {
        let events = self.events();
        assert_eq!(events.len(), 1, "exactly one audit event: {events:?}");
        events.into_iter().next().expect("one event")
    }

    /// The types of the events recorded so far.
    pub(crate) fn kinds(&self) -> Vec<AuditEventType> {
        self.events().iter().map(|e| e.kind).collect()
    }

    pub(crate) fn auditor(&self, clock: Arc<dyn Clock>) -> Auditor {
        let mut log = MockAuditLog::new();
        let (events, failing) = (self.events.clone(), self.failing.clone());
        log.expect_record().returning(move |event| {
            events
                .lock()
                .expect("lock not poisoned")
                .push(event.clone());
            if failing.load(std::sync::atomic::Ordering::SeqCst) {
                Err(unavailable())
            } else {
                Ok(())
            }
        });
        let mut ids = MockIdGenerator::new();
        ids.expect_new_id().return_const(AUDIT_ID);
        Auditor::new(Arc::new(log), Arc::new(ids), clock)
    }
}

/// The mocked ports, set up one expectation at a time, then turned into the
/// service.
pub(crate) struct Mocks {
    pub(crate) users: MockUserRepository,
    pub(crate) sessions: MockSessionRepository,
    pub(crate) hasher: MockPasswordHasher,
    pub(crate) issuer: MockTokenIssuer,
    pub(crate) verifier: MockTokenVerifier,
    pub(crate) ids: MockIdGenerator,
    pub(crate) secrets: MockSecretGenerator,
    /// Log-in challenges (the secrets of `mfa_token`s come from `secrets`).
    pub(crate) challenges: MockMfaChallengeRepository,
    /// What the clock says, for every read.
    pub(crate) now: DateTime<Utc>,
    /// The refresh reuse grace period the service is built with.
    pub(crate) grace: TimeDelta,
    /// Where the auditor's log puts events.
    pub(crate) audit: AuditSink,
}

impl Mocks {
    pub(crate) fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            hasher: MockPasswordHasher::new(),
            issuer: MockTokenIssuer::new(),
            verifier: MockTokenVerifier::new(),
            ids: MockIdGenerator::new(),
            secrets: MockSecretGenerator::new(),
            challenges: MockMfaChallengeRepository::new(),
            now: now(),
            grace: settings().refresh_reuse_grace,
            audit: AuditSink::default(),
        }
    }

    fn clock(&self) -> Arc<dyn Clock> {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(self.now);
        Arc::new(clock)
    }

    fn token_settings(&self) -> AuthSettings {
        AuthSettings {
            refresh_reuse_grace: self.grace,
            ..settings()
        }
    }

    /// The sign-up, log-in and authentication service, with limits no test
    /// of it reaches.
    pub(crate) fn service(self) -> AuthService {
        self.service_limited(permissive_limiter(), LoginLimits::default())
    }

    /// The sign-up, log-in and authentication service, counting password
    /// checks with `limiter`.
    pub(crate) fn service_limited(
        self,
        limiter: MockRateLimiter,
        limits: LoginLimits,
    ) -> AuthService {
        let clock = self.clock();
        let settings = self.token_settings();
        let sessions: Arc<dyn SessionRepository> = Arc::new(self.sessions);
        let hasher: Arc<dyn PasswordHasher> = Arc::new(self.hasher);
        let ids: Arc<dyn IdGenerator> = Arc::new(self.ids);
        let secrets: Arc<dyn SecretGenerator> = Arc::new(self.secrets);
        let issuer = SessionIssuer::new(
            sessions.clone(),
            Arc::new(self.issuer),
            clock.clone(),
            ids.clone(),
            secrets.clone(),
            settings,
        );
        let mfa = ChallengeIssuer::new(
            Arc::new(self.challenges),
            secrets,
            ids.clone(),
            clock.clone(),
        );
        let guard = PasswordGuard::new(hasher.clone(), Arc::new(limiter), limits, clock.clone());
        let ports = AuthPorts {
            users: Arc::new(self.users),
            sessions,
            hasher,
            verifier: Arc::new(self.verifier),
            audit: self.audit.auditor(clock.clone()),
            clock,
            ids,
            mfa,
        };
        AuthService::new(ports, issuer, guard, PasswordHash::new(DUMMY_HASH.into()))
    }

    /// The session service.
    pub(crate) fn sessions_service(self) -> SessionService {
        let clock = self.clock();
        let settings = self.token_settings();
        let sessions: Arc<dyn SessionRepository> = Arc::new(self.sessions);
        let issuer = SessionIssuer::new(
            sessions.clone(),
            Arc::new(self.issuer),
            clock.clone(),
            Arc::new(self.ids),
            Arc::new(self.secrets),
            settings,
        );
        let audit = self.audit.auditor(clock.clone());
        SessionService::new(sessions, issuer, clock, audit)
    }

    /// The account service, with limits no test of it reaches unless
    /// `limiter` is given.
    pub(crate) fn account_service(
        self,
        limiter: Option<(MockRateLimiter, LoginLimits)>,
    ) -> AccountService {
        let clock = self.clock();
        let hasher: Arc<dyn PasswordHasher> = Arc::new(self.hasher);
        let (limiter, limits) =
            limiter.unwrap_or_else(|| (permissive_limiter(), LoginLimits::default()));
        AccountService::new(AccountPorts {
            users: Arc::new(self.users),
            hasher: hasher.clone(),
            guard: PasswordGuard::new(hasher, Arc::new(limiter), limits, clock.clone()),
            audit: self.audit.auditor(clock.clone()),
            clock,
        })
    }

    /// The recovery service, mailing through `mailer` and counting mails
    /// with `limiter`.
    pub(crate) fn recovery_service(
        self,
        tokens: MockActionTokenRepository,
        mailer: MockMailer,
        limiter: MockRateLimiter,
        settings: MailSettings,
    ) -> RecoveryService {
        let clock = self.clock();
        RecoveryService::new(
            RecoveryPorts {
                users: Arc::new(self.users),
                hasher: Arc::new(self.hasher),
                tokens: Arc::new(tokens),
                mailer: Arc::new(mailer),
                limiter: Arc::new(limiter),
                audit: self.audit.auditor(clock.clone()),
                clock,
                ids: Arc::new(self.ids),
                secrets: Arc::new(self.secrets),
            },
            settings,
        )
    }

    /// The id generator hands out exactly these ids, in this order.
    pub(crate) fn expect_ids(&mut self, ids: &[Uuid]) {
        let mut sequence = Sequence::new();
        for &id in ids {
            self.ids
                .expect_new_id()
                .times(1)
                .in_sequence(&mut sequence)
                .return_const(id);
        }
    }

    /// `find_by_email` is asked once for `email` and answers `found`.
    pub(crate) fn expect_find_by_email(&mut self, email: Email, found: Option<User>) {
        self.users
            .expect_find_by_email()
            .with(eq(email))
            .times(1)
            .return_once(move |_| Ok(found));
    }

    /// The hasher checks `password` against `hash` once and answers `outcome`.
    pub(crate) fn expect_verify(
        &mut self,
        password: &str,
        hash: &str,
        outcome: PasswordVerification,
    ) {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.hasher
            .expect_verify()
            .withf(move |candidate, stored| {
                candidate.expose_secret() == password && stored.as_str() == hash
            })
            .times(1)
            .return_once(move |_, _| Ok(outcome));
    }

    /// No hash is replaced.
    pub(crate) fn expect_no_rehash(&mut self) {
        self.hasher.expect_hash().never();
        self.users.expect_update_password_hash().never();
    }

    /// No session is opened and no token issued.
    pub(crate) fn expect_no_session(&mut self) {
        self.secrets.expect_generate().never();
        self.sessions.expect_insert().never();
        self.issuer.expect_issue().never();
    }

    /// Opening one session for `user_id`, with `SESSION_ID`, `REFRESH_TOKEN`
    /// and `ACCESS_TOKEN`. Returns the inserted session with its first
    /// refresh token and the audit event stored with them, and the issued
    /// claims.
    pub(crate) fn expect_session_opened(
        &mut self,
        user_id: UserId,
    ) -> (Captured<OpenedSession>, Captured<AccessClaims>) {
        self.secrets
            .expect_generate()
            .times(1)
            .return_once(|| REFRESH_TOKEN.to_owned());
        let inserted = Captured::default();
        let sink = Arc::clone(&inserted);
        self.sessions
            .expect_insert()
            .withf(move |session, _, _| session.user_id == user_id)
            .times(1)
            .returning(move |session, token, event| {
                *sink.lock().expect("lock not poisoned") =
                    Some((session.clone(), token.clone(), event.cloned()));
                Ok(())
            });
        let issued = Captured::default();
        let sink = Arc::clone(&issued);
        self.issuer
            .expect_issue()
            .times(1)
            .returning(move |claims| {
                *sink.lock().expect("lock not poisoned") = Some(claims.clone());
                Ok(ACCESS_TOKEN.to_owned())
            });
        (inserted, issued)
    }

    /// The verifier accepts `ACCESS_TOKEN` with these claims.
    pub(crate) fn expect_token(&mut self, claims: AccessClaims) {
        self.verifier
            .expect_verify()
            .withf(|token| token == ACCESS_TOKEN)
            .times(1)
            .return_once(move |_| Ok(claims));
    }

    /// The session store is asked once for `SESSION_ID` and answers `found`.
    pub(crate) fn expect_find_session(&mut self, found: Option<(Session, User)>) {
        self.sessions
            .expect_find_with_user()
            .with(eq(SESSION_ID))
            .times(1)
            .return_once(move |_| Ok(found));
    }
}

pub(crate) fn unavailable() -> StorageError {
    StorageError::Unavailable(anyhow::anyhow!("connection refused"))
}

/// `limiter` answers `hit`, and each turn of `hit_in_turn`, with `hit`.
pub(crate) fn expect_hits<F>(limiter: &mut MockRateLimiter, hit: F)
where
    F: FnMut(&str, TimeDelta, DateTime<Utc>) -> Result<WindowCount, StorageError> + Send + 'static,
{
    let hit = Arc::new(Mutex::new(hit));
    let each = Arc::clone(&hit);
    limiter.expect_hit().returning(move |key, window, now| {
        (each.lock().expect("lock not poisoned"))(key, window, now)
    });
    limiter
        .expect_hit_in_turn()
        .returning(move |keys, window, now| {
            let mut hit = hit.lock().expect("lock not poisoned");
            let mut counts = Vec::new();
            for &(key, limit) in keys {
                let count = hit(key, window, now)?;
                counts.push(count);
                if count.count > limit {
                    break;
                }
            }
            Ok(counts)
        });
}

/// A limiter under which every count stays at one: no limit is ever
/// reached.
pub(crate) fn permissive_limiter() -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    expect_hits(&mut limiter, |_, window, now| {
        Ok(WindowCount {
            count: 1,
            resets_at: now + window,
        })
    });
    limiter.expect_release().returning(|_| Ok(()));
    limiter.expect_reset().returning(|_| Ok(()));
    limiter.expect_reset_and_release().returning(|_, _| Ok(()));
    limiter
}
