use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::session::ClientInfo;
use crate::user::{User, UserId};

/// What an [`AuditEvent`] records. The wire names (`as_str`) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditEventType {
    /// An account was created (sign-up, or `authd user create`).
    Signup,
    /// A log-in opened a session.
    LoginSucceeded,
    /// A log-in was refused: unknown address, wrong password or disabled
    /// account (`details.reason`).
    LoginFailed,
    /// A log-in was refused by the failure limits, with no password checked.
    LoginRateLimited,
    /// A wrong second factor was presented.
    MfaChallengeFailed,
    /// A rotated refresh token was presented after the grace period; its
    /// session was revoked.
    RefreshReuseDetected,
    /// The user ended their session.
    Logout,
    /// The user revoked one or all of their sessions.
    SessionRevoked,
    /// The password was changed by its owner or by an operator.
    PasswordChanged,
    /// A reset link was mailed.
    PasswordResetRequested,
    /// The password was reset with a mailed link.
    PasswordReset,
    /// The e-mail address was verified with a mailed link.
    EmailVerified,
    /// A second factor was enabled.
    MfaEnabled,
    /// The second factor was disabled.
    MfaDisabled,
    /// A fresh set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// An administrator or operator changed the role or `is_active`;
    /// `details` holds each changed field as `{"from": …, "to": …}`.
    AccountUpdated,
    /// The account was deleted.
    AccountDeleted,
}

/// A name that is no [`AuditEventType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a known audit event type")]
pub struct UnknownAuditEventType;

impl AuditEventType {
    /// Every type, in the order of the documentation.
    pub const ALL: [Self; 17] = [
        Self::Signup,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginRateLimited,
        Self::MfaChallengeFailed,
        Self::RefreshReuseDetected,
        Self::Logout,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailVerified,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::RecoveryCodesRegenerated,
        Self::AccountUpdated,
        Self::AccountDeleted,
    ];

    /// The stable name (`login_failed`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginRateLimited => "login_rate_limited",
            Self::MfaChallengeFailed => "mfa_challenge_failed",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::EmailVerified => "email_verified",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::AccountUpdated => "account_updated",
            Self::AccountDeleted => "account_deleted",
        }
    }
}

impl FromStr for AuditEventType {
    type Err = UnknownAuditEventType;

    /// ```
    /// use auth_domain::audit::AuditEventType;
    /// assert_eq!("logout".parse(), Ok(AuditEventType::Logout));
    /// assert!("Logout".parse::<AuditEventType>().is_err());
    /// ```
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or(UnknownAuditEventType)
    }
}

impl fmt::Display for AuditEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value in [`AuditDetails`]: a small JSON subset (no arrays, no
/// floats, no null), enough for what events say and easy to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetailValue {
    /// A string.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Bool(bool),
    /// A nested object (e.g. `{"from": "user", "to": "admin"}`).
    Object(AuditDetails),
}

impl From<&str> for DetailValue {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for DetailValue {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<bool> for DetailValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for DetailValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<u64> for DetailValue {
    fn from(value: u64) -> Self {
        Self::Integer(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<AuditDetails> for DetailValue {
    fn from(value: AuditDetails) -> Self {
        Self::Object(value)
    }
}

/// The `details` object of an event: keys in sorted order. Never holds a
/// password, token or code; the use-cases put only identifiers, reasons,
/// counts and the fields an administrator changed into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditDetails(BTreeMap<String, DetailValue>);

impl AuditDetails {
    /// An empty object.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The object with `key` set to `value`.
    ///
    /// ```
    /// use auth_domain::audit::AuditDetails;
    /// let details = AuditDetails::new().with("reason", "wrong_password");
    /// assert_eq!(details.to_string(), r#"{"reason":"wrong_password"}"#);
    /// ```
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<DetailValue>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: String, value: DetailValue) {
        self.0.insert(key, value);
    }

    /// The value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&DetailValue> {
        self.0.get(key)
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DetailValue)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value))
    }

    /// Whether the object has no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What an access change altered, each field as `{"from", "to"}`:
    /// `{"role": {"from": "user", "to": "admin"}}`,
    /// `{"is_active": {"from": true, "to": false}}`. Unchanged fields are
    /// left out.
    #[must_use]
    pub fn access_changes(before: &User, after: &User) -> Self {
        let change = |from: DetailValue, to: DetailValue| {
            DetailValue::Object(Self::new().with("from", from).with("to", to))
        };
        let mut details = Self::new();
        if before.role != after.role {
            details.insert(
                "role".into(),
                change(before.role.as_str().into(), after.role.as_str().into()),
            );
        }
        if before.is_active != after.is_active {
            details.insert(
                "is_active".into(),
                change(before.is_active.into(), after.is_active.into()),
            );
        }
        details
    }
}

/// JSON text of the object, as the structured log carries it.
impl fmt::Display for AuditDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('{')?;
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write_json_string(f, key)?;
            f.write_char(':')?;
            match value {
                DetailValue::Text(text) => write_json_string(f, text)?,
                DetailValue::Integer(n) => write!(f, "{n}")?,
                DetailValue::Bool(b) => write!(f, "{b}")?,
                DetailValue::Object(object) => write!(f, "{object}")?,
            }
        }
        f.write_char('}')
    }
}

fn write_json_string(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Who caused an event and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The user who acted: the administrator for administrative changes,
    /// the user themselves for self-service, `None` for anonymous requests
    /// and the operator's command line.
    pub actor_id: Option<UserId>,
    /// The request's client address and `User-Agent`; empty for the command
    /// line.
    pub client: ClientInfo,
}

impl Origin {
    /// A request by no signed-in user.
    #[must_use]
    pub fn anonymous(client: ClientInfo) -> Self {
        Self {
            actor_id: None,
            client,
        }
    }

    /// A request by the signed-in user `actor`.
    #[must_use]
    pub fn user(actor: UserId, client: ClientInfo) -> Self {
        Self {
            actor_id: Some(actor),
            client,
        }
    }

    /// The operator's command line: no actor, no client.
    #[must_use]
    pub fn operator() -> Self {
        Self::default()
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// A UUIDv7.
    pub id: Uuid,
    /// What happened.
    pub kind: AuditEventType,
    /// Whose account it concerns, when known. Kept when the account is
    /// deleted (there is no foreign key), so the trail outlives the user.
    pub user_id: Option<UserId>,
    /// Who caused it (see [`Origin::actor_id`]).
    pub actor_id: Option<UserId>,
    /// The client address of the request.
    pub ip: Option<String>,
    /// The `User-Agent` of the request.
    pub user_agent: Option<String>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// What else is worth knowing; never a secret.
    pub details: AuditDetails,
}

impl AuditEvent {
    /// This event with the fields an access change altered added to its
    /// details (see [`AuditDetails::access_changes`]). Repositories call it
    /// with the row as they locked it and as they wrote it.
    #[must_use]
    pub fn with_access_changes(mut self, before: &User, after: &User) -> Self {
        for (key, value) in AuditDetails::access_changes(before, after).0 {
            self.details.insert(key, value);
        }
        self
    }
}

/// Which events to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events about this user.
    pub user_id: Option<UserId>,
    /// Only events of this type.
    pub kind: Option<AuditEventType>,
}
