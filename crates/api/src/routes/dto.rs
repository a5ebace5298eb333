use auth_domain::auth::IssuedTokens;
use auth_domain::user::User;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A display or project name: 1 to 100 characters once trimmed of white
/// space, none of them a control character. Stored trimmed. Its schema is
/// written by hand so that the pattern is the domain's own
/// ([`auth_domain::common::NAME_PATTERN`]), not a copy.
#[derive(Debug)]
pub struct Name(pub String);

impl utoipa::PartialSchema for Name {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A display or project name: 1 to 100 characters once trimmed of white\n\
                 space, none of them a control character. Stored trimmed.",
            ))
            .min_length(Some(1))
            .pattern(Some(auth_domain::common::NAME_PATTERN))
            .into()
    }
}

impl ToSchema for Name {}

/// A user's role, as the API spells it.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// A regular user.
    User,
    /// An administrator.
    Admin,
}

/// A user as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// UUIDv7.
    pub id: Uuid,
    /// Normalised e-mail address.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Optional display name.
    pub display_name: Option<String>,
    /// Whether the address was verified.
    pub email_verified: bool,
    /// `user` or `admin`.
    #[schema(value_type = RoleName, example = "user")]
    pub role: &'static str,
    /// Whether log-in asks for a second factor.
    pub mfa_enabled: bool,
    /// RFC 3339, UTC.
    pub created_at: DateTime<Utc>,
    /// RFC 3339, UTC.
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.0,
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_ref().map(|n| n.as_str().to_owned()),
            email_verified: user.email_verified,
            role: user.role.as_str(),
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Tokens for a session (and, after sign-up and log-in, its user).
// The tokens are `SecretString`s: `Debug` shows neither.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT access token.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String)]
    pub access_token: SecretString,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// The opaque, single-use refresh token.
    #[serde(serialize_with = "expose")]
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
    /// The signed-in user (sign-up and log-in only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserResponse>,
}

impl TokenResponse {
    /// The response for freshly issued tokens.
    #[must_use]
    pub fn new(tokens: &IssuedTokens, user: Option<&User>) -> Self {
        Self {
            access_token: tokens.access_token.clone(),
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token.clone(),
            user: user.map(UserResponse::from),
        }
    }
}

/// Writes a secret into a response body: the one place tokens leave.
fn expose<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}
