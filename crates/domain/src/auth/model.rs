use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::session::{AuthMethods, ClientInfo, SessionId};
use crate::user::{DisplayName, Email, Password, Role, User, UserId};

/// What an access token says about its bearer. Adapters add the issuer and
/// audience they are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub`.
    pub user_id: UserId,
    /// `sid`.
    pub session_id: SessionId,
    /// `role`.
    pub role: Role,
    /// `iat` and `nbf`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// `jti`.
    pub token_id: Uuid,
    /// `amr`: how the user signed in.
    pub amr: AuthMethods,
}

/// A fresh access token and refresh token for one session. Both are
/// secrets: `Debug` shows neither.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The signed access token.
    pub access_token: SecretString,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The opaque refresh token; only its hash is stored.
    pub refresh_token: SecretString,
    /// The session both tokens belong to.
    pub session_id: SessionId,
}

/// A validated sign-up request.
#[derive(Debug, Clone)]
pub struct SignupCommand {
    /// The new account's address.
    pub email: Email,
    /// The new account's password, already checked against the policy.
    pub password: Password,
    /// Optional display name.
    pub display_name: Option<DisplayName>,
    /// Where the request came from.
    pub client: ClientInfo,
}

/// A log-in attempt. The e-mail address is raw: a malformed one is simply a
/// wrong credential, answered like any other.
#[derive(Debug, Clone)]
pub struct LoginCommand {
    /// The address as typed.
    pub email: String,
    /// The password as typed.
    pub password: SecretString,
    /// Where the request came from.
    pub client: ClientInfo,
}

/// The caller of an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user, as stored now (not as the token remembers them).
    pub user: User,
    /// The session the access token belongs to.
    pub session_id: SessionId,
}
