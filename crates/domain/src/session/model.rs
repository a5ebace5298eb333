use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::common::TokenHash;
use crate::user::UserId;

/// A session's id (a UUIDv7), carried in access tokens as `sid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub Uuid);

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

/// One signed-in device or client. Revoking it ends its refresh token and
/// every access token that carries its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Stable id, the `sid` claim.
    pub id: SessionId,
    /// Whose session this is.
    pub user_id: UserId,
    /// Hash of the current refresh token.
    pub refresh_token_hash: TokenHash,
    /// Hash of the refresh token that was rotated last, honoured for a short
    /// grace period so that racing clients are not logged out.
    pub previous_token_hash: Option<TokenHash>,
    /// When the refresh token was last rotated.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Where the session was opened from.
    pub client: ClientInfo,
    /// When the session was opened.
    pub created_at: DateTime<Utc>,
    /// When a token of this session was last refreshed.
    pub last_used_at: DateTime<Utc>,
    /// When the refresh token stops working.
    pub expires_at: DateTime<Utc>,
    /// When the session was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether the session may still back access tokens at `now`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}
