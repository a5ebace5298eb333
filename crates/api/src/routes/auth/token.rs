//! `POST /auth/token`: the OAuth 2.0 token endpoint (RFC 6749 §4.3, §6).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use auth_domain::auth::LoginCommand;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extractors::RequestClient;
use crate::oauth::{FormFields, Grant, OAuthError};
use crate::openapi::responses::HashingUnavailable;
use crate::routes::TokenResponse;
use crate::state::AppState;

/// The form fields of a token request, one shape per grant type.
// Only documents the body: the handler reads the raw form (`FormFields`), so
// that a bad request gets an RFC 6749 error rather than a deserialisation one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// Resource owner password credentials (RFC 6749 §4.3).
    Password {
        /// The e-mail address.
        #[schema(example = "ada@example.com", min_length = 1)]
        username: String,
        /// The password.
        #[schema(value_type = String, example = "correct horse battery staple", min_length = 1)]
        password: SecretString,
        /// Ignored: every token carries the user's role, not scopes.
        scope: Option<String>,
    },
    /// A refresh (RFC 6749 §6); the refresh token rotates.
    RefreshToken {
        /// The refresh token of the last token response.
        #[schema(value_type = String, min_length = 1)]
        refresh_token: SecretString,
        /// Ignored: every token carries the user's role, not scopes.
        scope: Option<String>,
    },
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
    let tokens = match Grant::from_fields(&fields) {
        Err(refusal) => return Ok(refusal.response()),
        Ok(Grant::Password { username, password }) => {
            let login = state
                .auth
                .login(LoginCommand {
                    email: username,
                    password,
                    client,
                })
                .await;
            state
                .metrics
                .observe_login(crate::metrics::login_outcome(&login));
            match login {
                Ok((_, tokens)) => tokens,
                Err(error) => {
                    return OAuthError::for_login(&error)
                        .map_or(Err(error.into()), |e| Ok(e.response()));
                }
            }
        }
        Ok(Grant::RefreshToken(token)) => {
            match state.sessions.refresh(token.expose_secret(), &client).await {
                Ok(tokens) => tokens,
                Err(error) => {
                    return OAuthError::for_refresh(&error)
                        .map_or(Err(error.into()), |e| Ok(e.response()));
                }
            }
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse::new(&tokens, None)))
}
