//! `POST /auth/token`: the OAuth 2.0 token endpoint (RFC 6749 §4.3, §6).

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, mime, web};
use auth_domain::auth::{LoginCommand, LoginError};
use auth_domain::session::RefreshError;
use futures_util::future::LocalBoxFuture;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extractors::RequestClient;
use crate::openapi::responses::HashingUnavailable;
use crate::routes::TokenResponse;
use crate::state::AppState;

/// The form fields of a token request, one shape per grant type.
// Only documents the body: the handler reads the raw form (`FormFields`), so
// that a bad request gets an RFC 6749 error rather than a deserialisation one.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// Resource owner password credentials (RFC 6749 §4.3).
    Password {
        /// The e-mail address.
        #[schema(example = "ada@example.com", min_length = 1)]
        username: String,
        /// The password.
        #[schema(example = "correct horse battery staple", min_length = 1)]
        password: String,
        /// Ignored: every token carries the user's role, not scopes.
        scope: Option<String>,
    },
    /// A refresh (RFC 6749 §6); the refresh token rotates.
    RefreshToken {
        /// The refresh token of the last token response.
        #[schema(min_length = 1)]
        refresh_token: String,
        /// Ignored: every token carries the user's role, not scopes.
        scope: Option<String>,
    },
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The fields hold passwords and tokens: the grant type only.
        f.write_str(match self {
            Self::Password { .. } => "TokenRequest::Password { .. }",
            Self::RefreshToken { .. } => "TokenRequest::RefreshToken { .. }",
        })
    }
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_grant` or `unsupported_grant_type`.
    #[schema(example = "invalid_grant")]
    pub error: &'static str,
    /// A human-readable explanation.
    pub error_description: String,
}

fn oauth_error(error: &'static str, description: impl Into<String>) -> HttpResponse {
    HttpResponse::build(StatusCode::BAD_REQUEST)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(OAuthError {
            error,
            error_description: description.into(),
        })
}

/// The form body as name/value pairs, within the body limit.
pub struct FormFields(Vec<(String, String)>);

impl std::fmt::Debug for FormFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values hold passwords and tokens: names only.
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl FromRequest for FormFields {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = matches!(
            req.mime_type(),
            Ok(Some(m)) if m.essence_str() == mime::APPLICATION_WWW_FORM_URLENCODED.essence_str()
        );
        let body = crate::extractors::read_limited(req, payload);
        Box::pin(async move {
            if !is_form {
                return Err(ApiError::unsupported_media_type(
                    "The token endpoint takes `application/x-www-form-urlencoded` bodies.",
                ));
            }
            let body = body.await?;
            serde_urlencoded::from_bytes(&body)
                .map(FormFields)
                .map_err(|_| ApiError::malformed("The body is not a valid URL-encoded form."))
        })
    }
}

/// Issues tokens for the `password` and `refresh_token` grants, so standard
/// OAuth 2.0 clients (and Swagger UI's Authorize button) work.
#[utoipa::path(post, path = "/auth/token", operation_id = "token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        HashingUnavailable,
        (status = 413, description = "Body too large (`payload_too_large`)", body = Problem, content_type = "application/problem+json"),
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "An RFC 6749 §5.2 error (`invalid_request`, `invalid_grant`, `unsupported_grant_type`) as JSON, or a problem document (`malformed_request`) for a body that cannot be read", content(
            (OAuthError = "application/json"),
            (Problem = "application/problem+json"),
        )),
        (status = 415, description = "Not a form (`unsupported_media_type`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed log-ins, or too many requests from this address (`rate_limited`); see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    FormFields(fields): FormFields,
) -> Result<HttpResponse, ApiError> {
    // RFC 6749 §3.2: parameters must not be repeated.
    let mut names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Ok(oauth_error(
            "invalid_request",
            format!("The parameter `{}` is repeated.", pair[0]),
        ));
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    };
    let Some(grant_type) = field("grant_type") else {
        return Ok(oauth_error("invalid_request", "`grant_type` is required."));
    };
    let tokens = match grant_type.as_str() {
        "password" => {
            let (Some(username), Some(password)) = (field("username"), field("password")) else {
                return Ok(oauth_error(
                    "invalid_request",
                    "The password grant needs `username` and `password`.",
                ));
            };
            let login = state
                .auth
                .login(LoginCommand {
                    email: username,
                    password: SecretString::from(password),
                    client,
                })
                .await;
            state
                .metrics
                .observe_login(crate::metrics::login_outcome(&login));
            match login {
                Ok((_, tokens)) => tokens,
                Err(LoginError::InvalidCredentials) => {
                    return Ok(oauth_error(
                        "invalid_grant",
                        "The username or password is incorrect.",
                    ));
                }
                Err(LoginError::AccountDisabled) => {
                    return Ok(oauth_error(
                        "invalid_grant",
                        "This account has been disabled.",
                    ));
                }
                Err(other) => return Err(other.into()),
            }
        }
        "refresh_token" => {
            let Some(refresh_token) = field("refresh_token") else {
                return Ok(oauth_error(
                    "invalid_request",
                    "The refresh_token grant needs `refresh_token`.",
                ));
            };
            match state.sessions.refresh(&refresh_token).await {
                Ok(tokens) => tokens,
                Err(RefreshError::InvalidToken) => {
                    return Ok(oauth_error(
                        "invalid_grant",
                        "The refresh token is invalid, expired, revoked or already used.",
                    ));
                }
                Err(other) => return Err(other.into()),
            }
        }
        _ => {
            return Ok(oauth_error(
                "unsupported_grant_type",
                "Supported grant types: `password`, `refresh_token`.",
            ));
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse::new(&tokens, None)))
}
