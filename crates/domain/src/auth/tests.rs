//! Unit tests of the `AuthService` use-cases, every port mocked.
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

use super::{
    AccessClaims, AuthPorts, AuthService, AuthSettings, AuthenticateError, IssueTokenError,
    LoginCommand, LoginError, MockTokenIssuer, MockTokenVerifier, SignupCommand, SignupError,
    TokenRejection,
};
use crate::common::{MockClock, MockIdGenerator, MockSecretGenerator, StorageError, TokenHash};
use crate::session::{
    ClientInfo, MockSessionRepository, RefreshToken, RefreshTokenId, Session, SessionId,
};
use crate::user::{
    CreateUserError, DisplayName, Email, HashError, MockPasswordHasher, MockUserRepository,
    Password, PasswordHash, PasswordPolicy, PasswordVerification, Role, User, UserId,
};

pub(super) const PASSWORD: &str = "correct horse battery staple";
pub(super) const WRONG_PASSWORD: &str = "incorrect donkey";
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXk$dummy";
pub(super) const STORED_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RvcmVk$stored";
pub(super) const NEW_HASH: &str = "$argon2id$v=19$m=65536,t=3,p=1$bmV3$new";
pub(super) const REFRESH_TOKEN: &str = "rEfReSh_tOkEn-0123456789abcdefghijklmnopqrs";
pub(super) const ACCESS_TOKEN: &str = "header.payload.signature";

pub(super) const USER_ID: UserId = UserId(Uuid::from_u128(0x0001));
pub(super) const OTHER_USER_ID: UserId = UserId(Uuid::from_u128(0x0002));
pub(super) const SESSION_ID: SessionId = SessionId(Uuid::from_u128(0x0101));
pub(super) const TOKEN_ID: Uuid = Uuid::from_u128(0x0201);
pub(super) const REFRESH_TOKEN_ID: RefreshTokenId = RefreshTokenId(Uuid::from_u128(0x0301));

/// Not the defaults, so that a test notices when the service ignores them.
pub(super) fn settings() -> AuthSettings {
    AuthSettings {
        access_ttl: TimeDelta::seconds(600),
        refresh_ttl: TimeDelta::days(7),
        refresh_reuse_grace: TimeDelta::seconds(10),
    }
}

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
        .single()
        .expect("valid timestamp")
}

pub(super) fn email() -> Email {
    Email::parse("ada@example.com").expect("valid e-mail address")
}

pub(super) fn client() -> ClientInfo {
    ClientInfo {
        user_agent: Some("tests/1.0".into()),
        ip: Some("192.0.2.7".into()),
    }
}

/// A stored user with the `STORED_HASH` password hash.
pub(super) fn user(id: UserId, is_active: bool) -> User {
    let created_at = now() - TimeDelta::days(100);
    User {
        id,
        email: email(),
        password_hash: PasswordHash::new(STORED_HASH.into()),
        display_name: Some(DisplayName::parse("Ada").expect("valid display name")),
        email_verified: true,
        role: Role::User,
        is_active,
        created_at,
        updated_at: created_at,
    }
}

/// A live session opened an hour ago, expiring in a day.
pub(super) fn session(id: SessionId, user_id: UserId) -> Session {
    let created_at = now() - TimeDelta::hours(1);
    Session {
        id,
        user_id,
        client: client(),
        created_at,
        last_used_at: created_at,
        expires_at: now() + TimeDelta::days(1),
        revoked_at: None,
    }
}

/// The claims of a valid access token issued a minute ago.
pub(super) fn claims(user_id: UserId, session_id: SessionId) -> AccessClaims {
    let issued_at = now() - TimeDelta::minutes(1);
    AccessClaims {
        user_id,
        session_id,
        role: Role::User,
        issued_at,
        expires_at: issued_at + settings().access_ttl,
        token_id: TOKEN_ID,
    }
}

fn signup_command(raw_email: &str) -> SignupCommand {
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

pub(super) fn login_command(raw_email: &str, password: &str) -> LoginCommand {
    LoginCommand {
        email: raw_email.into(),
        password: SecretString::from(password),
        client: client(),
    }
}

/// Where a mock stores the argument it was called with, for assertions after
/// the call.
pub(super) type Captured<T> = Arc<Mutex<Option<T>>>;

pub(super) fn take<T>(captured: &Captured<T>) -> T {
    captured
        .lock()
        .expect("lock not poisoned")
        .take()
        .expect("the mock was called")
}

/// The mocked ports, set up one expectation at a time, then turned into the
/// service.
pub(super) struct Mocks {
    pub(super) users: MockUserRepository,
    pub(super) sessions: MockSessionRepository,
    pub(super) hasher: MockPasswordHasher,
    pub(super) issuer: MockTokenIssuer,
    pub(super) verifier: MockTokenVerifier,
    pub(super) ids: MockIdGenerator,
    pub(super) secrets: MockSecretGenerator,
    /// What the clock says, for every read.
    pub(super) now: DateTime<Utc>,
    /// The refresh reuse grace period the service is built with.
    pub(super) grace: TimeDelta,
}

impl Mocks {
    pub(super) fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            hasher: MockPasswordHasher::new(),
            issuer: MockTokenIssuer::new(),
            verifier: MockTokenVerifier::new(),
            ids: MockIdGenerator::new(),
            secrets: MockSecretGenerator::new(),
            now: now(),
            grace: settings().refresh_reuse_grace,
        }
    }

    pub(super) fn service(self) -> AuthService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(self.now);
        let ports = AuthPorts {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            hasher: Arc::new(self.hasher),
            issuer: Arc::new(self.issuer),
            verifier: Arc::new(self.verifier),
            clock: Arc::new(clock),
            ids: Arc::new(self.ids),
            secrets: Arc::new(self.secrets),
        };
        let settings = AuthSettings {
            refresh_reuse_grace: self.grace,
            ..settings()
        };
        AuthService::new(ports, settings, PasswordHash::new(DUMMY_HASH.into()))
    }

    /// The id generator hands out exactly these ids, in this order.
    pub(super) fn expect_ids(&mut self, ids: &[Uuid]) {
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
    pub(super) fn expect_find_by_email(&mut self, email: Email, found: Option<User>) {
        self.users
            .expect_find_by_email()
            .with(eq(email))
            .times(1)
            .return_once(move |_| Ok(found));
    }

    /// The hasher checks `password` against `hash` once and answers `outcome`.
    pub(super) fn expect_verify(
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
    pub(super) fn expect_no_rehash(&mut self) {
        self.hasher.expect_hash().never();
        self.users.expect_update_password_hash().never();
    }

    /// No session is opened and no token issued.
    pub(super) fn expect_no_session(&mut self) {
        self.secrets.expect_generate().never();
        self.sessions.expect_insert().never();
        self.issuer.expect_issue().never();
    }

    /// Opening one session for `user_id`, with `SESSION_ID`, `REFRESH_TOKEN`
    /// and `ACCESS_TOKEN`. Returns the inserted session with its first
    /// refresh token, and the issued claims.
    pub(super) fn expect_session_opened(
        &mut self,
        user_id: UserId,
    ) -> (Captured<(Session, RefreshToken)>, Captured<AccessClaims>) {
        self.secrets
            .expect_generate()
            .times(1)
            .return_once(|| REFRESH_TOKEN.to_owned());
        let inserted = Captured::default();
        let sink = Arc::clone(&inserted);
        self.sessions
            .expect_insert()
            .withf(move |session, _| session.user_id == user_id)
            .times(1)
            .returning(move |session, token| {
                *sink.lock().expect("lock not poisoned") = Some((session.clone(), token.clone()));
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
    fn expect_token(&mut self, claims: AccessClaims) {
        self.verifier
            .expect_verify()
            .withf(|token| token == ACCESS_TOKEN)
            .times(1)
            .return_once(move |_| Ok(claims));
    }

    /// The session store is asked once for `SESSION_ID` and answers `found`.
    pub(super) fn expect_find_session(&mut self, found: Option<(Session, User)>) {
        self.sessions
            .expect_find_with_user()
            .with(eq(SESSION_ID))
            .times(1)
            .return_once(move |_| Ok(found));
    }
}

pub(super) fn unavailable() -> StorageError {
    StorageError::Unavailable(anyhow::anyhow!("connection refused"))
}

// ---------------------------------------------------------------- signup

#[tokio::test]
async fn signup_creates_a_user_and_opens_a_session() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .withf(|password| password.secret().expose_secret() == PASSWORD)
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0, SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let inserted_user = Captured::default();
    let sink = Arc::clone(&inserted_user);
    mocks.users.expect_insert().times(1).returning(move |user| {
        *sink.lock().expect("lock not poisoned") = Some(user.clone());
        Ok(())
    });
    let (inserted_session, issued) = mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (user, tokens) = service
        .signup(signup_command("  Ada@Example.COM "))
        .await
        .expect("signup succeeds");

    let stored = take(&inserted_user);
    assert_eq!(stored, user, "the returned user is the stored one");
    assert_eq!(user.id, USER_ID);
    assert_eq!(user.email.as_str(), "ada@example.com");
    assert_eq!(user.password_hash.as_str(), NEW_HASH);
    assert_eq!(
        user.display_name.as_ref().map(DisplayName::as_str),
        Some("Ada")
    );
    assert_eq!(user.role, Role::User);
    assert!(user.is_active);
    assert!(!user.email_verified);
    assert_eq!((user.created_at, user.updated_at), (now(), now()));

    let (session, refresh_token) = take(&inserted_session);
    assert_eq!(
        session,
        Session {
            id: SESSION_ID,
            user_id: USER_ID,
            client: client(),
            created_at: now(),
            last_used_at: now(),
            expires_at: now() + settings().refresh_ttl,
            revoked_at: None,
        }
    );
    assert_eq!(
        refresh_token,
        RefreshToken {
            id: REFRESH_TOKEN_ID,
            session_id: session.id,
            hash: TokenHash::of(tokens.refresh_token.expose_secret()),
            created_at: now(),
            expires_at: now() + settings().refresh_ttl,
            rotated_at: None,
        }
    );
    assert_ne!(
        refresh_token.hash.as_str(),
        tokens.refresh_token.expose_secret(),
        "only the hash of the refresh token is stored"
    );

    assert_eq!(
        take(&issued),
        AccessClaims {
            user_id: USER_ID,
            session_id: SESSION_ID,
            role: Role::User,
            issued_at: now(),
            expires_at: now() + settings().access_ttl,
            token_id: TOKEN_ID,
        }
    );
    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
    assert_eq!(tokens.refresh_token.expose_secret(), REFRESH_TOKEN);
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.session_id, SESSION_ID);
}

#[tokio::test]
async fn signup_with_a_taken_email_opens_no_session() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0]);
    mocks
        .users
        .expect_insert()
        .withf(|user| user.email == email())
        .times(1)
        .return_once(|_| Err(CreateUserError::EmailTaken));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ADA@example.com"))
        .await
        .expect_err("the address is taken");

    assert!(matches!(error, SignupError::EmailTaken), "{error:?}");
}

#[tokio::test]
async fn signup_when_hashing_is_busy_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Busy));
    mocks.users.expect_insert().never();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("no hashing capacity");

    assert!(matches!(error, SignupError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_hashing_fails_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Unexpected(anyhow::anyhow!("worker died"))));
    mocks.users.expect_insert().never();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("hashing failed");

    assert!(matches!(error, SignupError::Unexpected(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_user_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0]);
    mocks
        .users
        .expect_insert()
        .times(1)
        .return_once(|_| Err(CreateUserError::Storage(unavailable())));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("storage is down");

    assert!(matches!(error, SignupError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_session_storage_is_unavailable_issues_no_token() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0, SESSION_ID.0, REFRESH_TOKEN_ID.0]);
    mocks.users.expect_insert().times(1).return_once(|_| Ok(()));
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| REFRESH_TOKEN.to_owned());
    mocks
        .sessions
        .expect_insert()
        .times(1)
        .return_once(|_, _| Err(unavailable()));
    mocks.issuer.expect_issue().never();
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("storage is down");

    assert!(matches!(error, SignupError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn signup_when_signing_fails_is_unexpected() {
    let mut mocks = Mocks::new();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks.expect_ids(&[USER_ID.0, SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.users.expect_insert().times(1).return_once(|_| Ok(()));
    mocks
        .secrets
        .expect_generate()
        .times(1)
        .return_once(|| REFRESH_TOKEN.to_owned());
    mocks
        .sessions
        .expect_insert()
        .times(1)
        .return_once(|_, _| Ok(()));
    mocks
        .issuer
        .expect_issue()
        .times(1)
        .return_once(|_| Err(IssueTokenError(anyhow::anyhow!("broken key"))));
    let service = mocks.service();

    let error = service
        .signup(signup_command("ada@example.com"))
        .await
        .expect_err("signing failed");

    assert!(matches!(error, SignupError::Unexpected(_)), "{error:?}");
}

// ----------------------------------------------------------------- login

#[tokio::test]
async fn login_with_the_right_password_opens_a_session() {
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
    let (inserted_session, issued) = mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (logged_in, tokens) = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(logged_in, user(USER_ID, true));
    let (session, refresh_token) = take(&inserted_session);
    assert_eq!(session.id, SESSION_ID);
    assert_eq!(session.client, client());
    assert_eq!(session.expires_at, now() + settings().refresh_ttl);
    assert_eq!(session.revoked_at, None);
    assert_eq!(refresh_token.session_id, session.id);
    assert_eq!(
        refresh_token.hash,
        TokenHash::of(tokens.refresh_token.expose_secret())
    );
    assert_eq!(refresh_token.rotated_at, None);
    assert_eq!(refresh_token.expires_at, now() + settings().refresh_ttl);
    let claims = take(&issued);
    assert_eq!((claims.user_id, claims.session_id), (USER_ID, SESSION_ID));
    assert_eq!(claims.role, Role::User);
    assert_eq!(claims.issued_at, now());
    assert_eq!(claims.expires_at, now() + settings().access_ttl);
    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.session_id, SESSION_ID);
}

#[tokio::test]
async fn login_issues_the_role_of_the_stored_user() {
    let mut mocks = Mocks::new();
    let admin = User {
        role: Role::Admin,
        ..user(USER_ID, true)
    };
    mocks.expect_find_by_email(email(), Some(admin));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    let (_, issued) = mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(take(&issued).role, Role::Admin);
}

#[tokio::test]
async fn login_with_a_wrong_password_is_refused() {
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
async fn login_with_an_unknown_email_verifies_the_dummy_hash() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), None);
    // The dummy hash never matches in practice, but the answer must not
    // depend on it: an unknown address is always refused.
    mocks
        .hasher
        .expect_verify()
        .withf(|candidate, hash| {
            candidate.expose_secret() == PASSWORD && hash.as_str() == DUMMY_HASH
        })
        .times(1)
        .return_once(|_, _| {
            Ok(PasswordVerification::Match {
                needs_rehash: false,
            })
        });
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("unknown address");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_a_malformed_email_never_queries_storage() {
    let mut mocks = Mocks::new();
    mocks.users.expect_find_by_email().never();
    mocks.expect_verify(PASSWORD, DUMMY_HASH, PasswordVerification::Mismatch);
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("not an address", PASSWORD))
        .await
        .expect_err("malformed address");

    assert!(matches!(error, LoginError::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_of_a_disabled_user_with_the_right_password_is_disabled() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, false)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks.expect_no_rehash();
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("account disabled");

    assert!(matches!(error, LoginError::AccountDisabled), "{error:?}");
}

#[tokio::test]
async fn login_of_a_disabled_user_with_a_wrong_password_reveals_nothing() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, false)));
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
async fn login_upgrades_an_outdated_hash() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks
        .hasher
        .expect_hash()
        .withf(|password| password.secret().expose_secret() == PASSWORD)
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks
        .users
        .expect_update_password_hash()
        .with(
            eq(USER_ID),
            eq(PasswordHash::new(NEW_HASH.into())),
            eq(now()),
        )
        .times(1)
        .return_once(|_, _, _| Ok(true));
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (logged_in, _) = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(logged_in.id, USER_ID);
}

#[tokio::test]
async fn login_succeeds_when_the_hash_upgrade_cannot_hash() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Err(HashError::Busy));
    mocks.users.expect_update_password_hash().never();
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (_, tokens) = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("a failed upgrade does not fail the login");

    assert_eq!(tokens.access_token.expose_secret(), ACCESS_TOKEN);
}

#[tokio::test]
async fn login_succeeds_when_the_hash_upgrade_cannot_be_stored() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match { needs_rehash: true },
    );
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .return_once(|_| Ok(PasswordHash::new(NEW_HASH.into())));
    mocks
        .users
        .expect_update_password_hash()
        .times(1)
        .return_once(|_, _, _| Err(unavailable()));
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect("a failed upgrade does not fail the login");
}

#[tokio::test]
async fn login_looks_the_email_up_case_insensitively() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(
        Email::parse("ada@example.com").expect("valid e-mail address"),
        Some(user(USER_ID, true)),
    );
    mocks.expect_verify(
        PASSWORD,
        STORED_HASH,
        PasswordVerification::Match {
            needs_rehash: false,
        },
    );
    mocks.expect_ids(&[SESSION_ID.0, REFRESH_TOKEN_ID.0, TOKEN_ID]);
    mocks.expect_session_opened(USER_ID);
    let service = mocks.service();

    let (logged_in, _) = service
        .login(login_command("  ADA@Example.com ", PASSWORD))
        .await
        .expect("login succeeds");

    assert_eq!(logged_in.email.as_str(), "ada@example.com");
}

#[tokio::test]
async fn login_when_hashing_is_busy_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks.expect_find_by_email(email(), Some(user(USER_ID, true)));
    mocks
        .hasher
        .expect_verify()
        .times(1)
        .return_once(|_, _| Err(HashError::Busy));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("no hashing capacity");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn login_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_find_by_email()
        .times(1)
        .return_once(|_| Err(unavailable()));
    mocks.expect_no_session();
    let service = mocks.service();

    let error = service
        .login(login_command("ada@example.com", PASSWORD))
        .await
        .expect_err("storage is down");

    assert!(matches!(error, LoginError::Unavailable(_)), "{error:?}");
}

// ---------------------------------------------------------- authenticate

#[tokio::test]
async fn authenticate_returns_the_current_user_and_session() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    // The stored user changed since the token was issued: the stored one wins.
    let promoted = User {
        role: Role::Admin,
        ..user(USER_ID, true)
    };
    mocks.expect_find_session(Some((session(SESSION_ID, USER_ID), promoted.clone())));
    let service = mocks.service();

    let authenticated = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect("token is valid");

    assert_eq!(authenticated.user, promoted);
    assert_eq!(authenticated.session_id, SESSION_ID);
}

#[tokio::test]
async fn authenticate_passes_on_the_verifier_rejection() {
    let mut mocks = Mocks::new();
    mocks
        .verifier
        .expect_verify()
        .withf(|token| token == ACCESS_TOKEN)
        .times(1)
        .return_once(|_| Err(TokenRejection::Expired));
    mocks.sessions.expect_find_with_user().never();
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("token rejected");

    assert!(
        matches!(error, AuthenticateError::Rejected(TokenRejection::Expired)),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_deleted_session() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(None);
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("no session");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_revoked_session() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    let revoked = Session {
        revoked_at: Some(now() - TimeDelta::seconds(1)),
        ..session(SESSION_ID, USER_ID)
    };
    mocks.expect_find_session(Some((revoked, user(USER_ID, true))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session revoked");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_session_expiring_now() {
    let mut mocks = Mocks::new();
    let expiring = session(SESSION_ID, USER_ID);
    mocks.now = expiring.expires_at;
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((expiring, user(USER_ID, true))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session expired");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_an_expired_session() {
    let mut mocks = Mocks::new();
    let expired = session(SESSION_ID, USER_ID);
    mocks.now = expired.expires_at + TimeDelta::days(3);
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((expired, user(USER_ID, true))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session expired");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_accepts_a_session_just_before_it_expires() {
    let mut mocks = Mocks::new();
    let expiring = session(SESSION_ID, USER_ID);
    mocks.now = expiring.expires_at - TimeDelta::seconds(1);
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((expiring, user(USER_ID, true))));
    let service = mocks.service();

    let authenticated = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect("session still live");

    assert_eq!(authenticated.session_id, SESSION_ID);
}

#[tokio::test]
async fn authenticate_refuses_a_session_of_another_user() {
    let mut mocks = Mocks::new();
    // A token naming one user but a session id that belongs to another.
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((
        session(SESSION_ID, OTHER_USER_ID),
        user(OTHER_USER_ID, true),
    )));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("session of another user");

    assert!(
        matches!(error, AuthenticateError::SessionInvalid),
        "{error:?}"
    );
}

#[tokio::test]
async fn authenticate_refuses_a_disabled_user() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks.expect_find_session(Some((session(SESSION_ID, USER_ID), user(USER_ID, false))));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("user disabled");

    assert!(matches!(error, AuthenticateError::UserInvalid), "{error:?}");
}

#[tokio::test]
async fn authenticate_when_storage_is_unavailable_is_unavailable() {
    let mut mocks = Mocks::new();
    mocks.expect_token(claims(USER_ID, SESSION_ID));
    mocks
        .sessions
        .expect_find_with_user()
        .with(eq(SESSION_ID))
        .times(1)
        .return_once(|_| Err(unavailable()));
    let service = mocks.service();

    let error = service
        .authenticate(ACCESS_TOKEN)
        .await
        .expect_err("storage is down");

    assert!(
        matches!(error, AuthenticateError::Unavailable(_)),
        "{error:?}"
    );
}
