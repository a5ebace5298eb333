//! Fixtures shared by the tests.

use std::sync::Arc;

use auth_domain::auth::{IssuedTokens, LoginCommand};
use auth_domain::common::TokenHash;
use auth_domain::session::{ClientInfo, RefreshToken, RefreshTokenId, Session, SessionId};
use auth_domain::user::{Email, PasswordHash, Role, User, UserId};
use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use embedded_service::adapters::ManualClock;
use embedded_service::{Embedded, Ports, RegistrationForm, Settings, wire_with};
use secrecy::SecretString;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";

/// A fixed start, to the microsecond as stored instants are.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
        .single()
        .expect("valid timestamp")
}

/// The services on the in-memory adapters, with a clock the test moves.
pub async fn wired(settings: Settings) -> (Embedded, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let embedded = wire_with(Ports::in_memory(clock.clone()), settings)
        .await
        .expect("wiring succeeds");
    (embedded, clock)
}

/// Registers `email` with [`PASSWORD`].
pub async fn register(embedded: &Embedded, email: &str) -> (User, IssuedTokens) {
    embedded
        .register(RegistrationForm::new(email, PASSWORD))
        .await
        .expect("registration succeeds")
}

pub fn login_command(email: &str, password: &str) -> LoginCommand {
    LoginCommand {
        email: email.into(),
        password: SecretString::from(password),
        client: ClientInfo {
            user_agent: Some("tests".into()),
            ip: Some("192.0.2.7".into()),
        },
    }
}

/// A stored user, as a repository test inserts it.
pub fn user(email: &str, role: Role, created_at: DateTime<Utc>) -> User {
    User {
        id: UserId(Uuid::now_v7()),
        email: Email::parse(email).expect("valid e-mail address"),
        password_hash: PasswordHash::new("$demo-sha256$i=1$c2FsdA$ZGlnZXN0".into()),
        display_name: None,
        email_verified: false,
        role,
        is_active: true,
        mfa_enabled: false,
        created_at,
        updated_at: created_at,
    }
}

/// A session of `user` opened at [`start`], for a day.
pub fn session(user: UserId) -> Session {
    Session {
        id: SessionId(Uuid::now_v7()),
        user_id: user,
        client: ClientInfo::default(),
        created_at: start(),
        last_used_at: start(),
        expires_at: start() + TimeDelta::days(1),
        revoked_at: None,
        amr: auth_domain::session::AuthMethods::Password,
    }
}

/// A live refresh token of `session` whose plaintext is `plaintext`.
pub fn refresh_token(session: SessionId, plaintext: &str) -> RefreshToken {
    RefreshToken {
        id: RefreshTokenId(Uuid::now_v7()),
        session_id: session,
        hash: TokenHash::of(plaintext),
        created_at: start(),
        expires_at: start() + TimeDelta::days(1),
        rotated_at: None,
    }
}

/// An audit event to store with a change.
pub fn event() -> auth_domain::audit::AuditEvent {
    auth_domain::audit::AuditEvent {
        id: Uuid::now_v7(),
        kind: auth_domain::audit::AuditEventType::Signup,
        user_id: None,
        actor_id: None,
        ip: None,
        user_agent: None,
        created_at: start(),
        details: auth_domain::audit::AuditDetails::new(),
    }
}
