//! Domain values to store, stamped with the [`SystemClock`] (microseconds).

use auth_domain::common::{Clock as _, IdGenerator as _, SecretGenerator as _, TokenHash};
use auth_domain::project::{Project, ProjectDescription, ProjectId, ProjectName};
use auth_domain::recovery::{ActionToken, TokenPurpose};
use auth_domain::session::{
    AuthMethods, ClientInfo, RefreshToken, RefreshTokenId, Session, SessionId,
};
use auth_domain::user::{DisplayName, Email, PasswordHash, Role, User, UserId};
use auth_infra::system::{RandomSecretGenerator, SystemClock, UuidV7Generator};
use chrono::{DateTime, Duration, Utc};

/// A syntactically plausible Argon2id PHC string (never verified here).
pub const PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";

/// Now, to the microsecond.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// A new user with every optional field set and non-default flags.
pub fn user(email: &str) -> User {
    let created_at = now();
    User {
        id: UserId(UuidV7Generator.new_id()),
        email: Email::parse(email).expect("valid e-mail address"),
        password_hash: PasswordHash::new(PHC.to_owned()),
        display_name: Some(DisplayName::parse("Ada Lovelace").expect("valid display name")),
        email_verified: true,
        role: Role::Admin,
        is_active: false,
        mfa_enabled: false,
        created_at,
        // Distinct from `created_at`, with sub-second digits of its own.
        updated_at: created_at + Duration::microseconds(1_234_567),
    }
}

/// A new user with the defaults and no display name.
pub fn plain_user(email: &str) -> User {
    User {
        display_name: None,
        email_verified: false,
        role: Role::User,
        is_active: true,
        ..user(email)
    }
}

/// A live session of `user_id`, opened five minutes ago, with the client
/// known.
pub fn session(user_id: UserId) -> Session {
    let now = now();
    Session {
        id: SessionId(UuidV7Generator.new_id()),
        user_id,
        client: ClientInfo {
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) test/1.0".to_owned()),
            ip: Some("2001:db8::7".to_owned()),
        },
        created_at: now - Duration::minutes(5),
        // Distinct from `created_at`, with sub-second digits of its own.
        last_used_at: now - Duration::microseconds(2_500_001),
        expires_at: now + Duration::days(30),
        revoked_at: None,
        amr: AuthMethods::PasswordAndOtp,
    }
}

/// A session of `user_id` with every optional field set: the client is
/// known and the session is revoked.
pub fn revoked_session(user_id: UserId) -> Session {
    let session = session(user_id);
    Session {
        revoked_at: Some(session.last_used_at + Duration::microseconds(1)),
        ..session
    }
}

/// A live session of `user_id` with every optional field empty.
pub fn bare_session(user_id: UserId) -> Session {
    Session {
        client: ClientInfo::default(),
        ..session(user_id)
    }
}

/// The live refresh token of a fresh `session`: issued when the session was
/// last used, expiring with it.
pub fn refresh_token(session: &Session) -> RefreshToken {
    RefreshToken {
        id: RefreshTokenId(UuidV7Generator.new_id()),
        session_id: session.id,
        hash: TokenHash::of(&RandomSecretGenerator.generate()),
        created_at: session.last_used_at,
        expires_at: session.expires_at,
        rotated_at: None,
    }
}

/// A token to replace one of `session`'s, issued at `now` and expiring 31
/// days later, so after any fresh session.
pub fn replacement(session: &Session, now: DateTime<Utc>) -> RefreshToken {
    RefreshToken {
        created_at: now,
        expires_at: now + Duration::days(31),
        ..refresh_token(session)
    }
}

/// A project of `owner` called `name`, with a description.
pub fn project(owner: UserId, name: &str) -> Project {
    let created_at = now();
    Project {
        id: ProjectId(UuidV7Generator.new_id()),
        owner_id: owner,
        name: ProjectName::parse(name).expect("valid project name"),
        description: Some(
            ProjectDescription::parse("Crewed lunar landings.\nÜnïcödé too.")
                .expect("valid description"),
        ),
        created_at,
        updated_at: created_at + Duration::microseconds(999_999),
    }
}

/// A project of `owner` called `name`, with a chosen id and creation instant
/// (several projects may share one).
pub fn project_at(owner: UserId, name: &str, id: uuid::Uuid, created_at: DateTime<Utc>) -> Project {
    Project {
        id: ProjectId(id),
        created_at,
        updated_at: created_at + Duration::microseconds(1),
        ..project(owner, name)
    }
}

/// A fresh one-time token of `user_id`, issued now and valid for an hour.
pub fn action_token(user_id: UserId, purpose: TokenPurpose) -> ActionToken {
    let created_at = now();
    ActionToken {
        id: UuidV7Generator.new_id(),
        user_id,
        purpose,
        hash: TokenHash::of(&RandomSecretGenerator.generate()),
        created_at,
        expires_at: created_at + Duration::hours(1),
    }
}

/// An audit event about nobody in particular, to store with a change.
pub fn event() -> auth_domain::audit::AuditEvent {
    auth_domain::audit::AuditEvent {
        id: UuidV7Generator.new_id(),
        kind: auth_domain::audit::AuditEventType::Signup,
        user_id: None,
        actor_id: None,
        ip: None,
        user_agent: None,
        created_at: now(),
        details: auth_domain::audit::AuditDetails::new(),
    }
}
