use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::common::TokenHash;
use crate::user::UserId;

/// A session's id (a UUIDv7), carried in access tokens as `sid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub Uuid);

impl From<Uuid> for SessionId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the server knows about the client that opened a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The `User-Agent` header, truncated to a sane length.
    pub user_agent: Option<String>,
    /// The client's IP address as the server sees it.
    pub ip: Option<String>,
}

/// How the user proved who they are when a session was opened: the `amr`
/// claim (RFC 8176) of every access token the session backs, kept with the
/// session so that a refreshed token says the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthMethods {
    /// A password only: `["pwd"]`.
    #[default]
    Password,
    /// A password, then a one-time code or recovery code: `["pwd", "otp"]`.
    PasswordAndOtp,
}

impl AuthMethods {
    /// The RFC 8176 method names, in the order they were used.
    #[must_use]
    pub const fn names(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordAndOtp => &["pwd", "otp"],
        }
    }

    /// The storage name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::PasswordAndOtp => "pwd otp",
        }
    }

    /// Reads a storage name back; `None` for anything else.
    #[must_use]
    pub fn from_stored(stored: &str) -> Option<Self> {
        match stored {
            "pwd" => Some(Self::Password),
            "pwd otp" => Some(Self::PasswordAndOtp),
            _ => None,
        }
    }
}

/// One signed-in device or client: a family of refresh tokens. Revoking it
/// ends every refresh token of the family and every access token that
/// carries its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Stable id, the `sid` claim.
    pub id: SessionId,
    /// Whose session this is.
    pub user_id: UserId,
    /// Where the session was opened from.
    pub client: ClientInfo,
    /// When the session was opened.
    pub created_at: DateTime<Utc>,
    /// When a token of this session was last issued.
    pub last_used_at: DateTime<Utc>,
    /// When the newest refresh token of the family expires; the session
    /// ends then unless refreshed.
    pub expires_at: DateTime<Utc>,
    /// When the session was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// How the user signed in.
    pub amr: AuthMethods,
}

impl Session {
    /// Whether the session may still back tokens at `now`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A refresh token's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefreshTokenId(pub Uuid);

/// One refresh token of a session's family. Only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Stable id.
    pub id: RefreshTokenId,
    /// The family it belongs to.
    pub session_id: SessionId,
    /// SHA-256 of the token.
    pub hash: TokenHash,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for a new token, or superseded by a token issued
    /// to a replay within the grace period; `None` while it is the session's
    /// one live token.
    pub rotated_at: Option<DateTime<Utc>>,
}

/// A refresh token drawn before the session it joins is known: a rotation
/// finds the session through the token the draft replaces
/// ([`SessionRepository::rotate_live`](super::SessionRepository::rotate_live)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenDraft {
    /// Stable id.
    pub id: RefreshTokenId,
    /// SHA-256 of the token.
    pub hash: TokenHash,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl RefreshTokenDraft {
    /// The draft as the live token of `session`.
    #[must_use]
    pub fn in_session(&self, session: SessionId) -> RefreshToken {
        RefreshToken {
            id: self.id,
            session_id: session,
            hash: self.hash.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            rotated_at: None,
        }
    }
}
