use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DisplayName, Email, PasswordHash};

/// A user's id (a UUIDv7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub Uuid);

impl From<Uuid> for UserId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// An ordinary account.
    #[default]
    User,
    /// May manage other users through the administration API.
    Admin,
}

impl Role {
    /// The role's wire and storage name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is neither `user` nor `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role must be \"user\" or \"admin\"")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err(UnknownRole),
        }
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Normalised (trimmed, lower-cased) address, unique across users.
    pub email: Email,
    /// The PHC string of the current password.
    pub password_hash: PasswordHash,
    /// Optional name shown to other people.
    pub display_name: Option<DisplayName>,
    /// Whether the user proved they own `email`.
    pub email_verified: bool,
    /// What the user may do.
    pub role: Role,
    /// `false` once an administrator disabled the account.
    pub is_active: bool,
    /// Whether log-in asks for a second factor (a confirmed TOTP enrolment).
    pub mfa_enabled: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
}
