//! `POST /auth/token`: the OAuth 2.0 token endpoint (RFC 6749 §4.3, §6).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use auth_domain::auth::LoginCommand;
use secrecy::ExposeSecret as _;

use crate::error::{ApiError, Problem};
use crate::extractors::RequestClient;
use crate::oauth::{FormFields, Grant, OAuthError, TokenRequest};
use crate::openapi::responses::{HashingUnavailable, LoginLimited};
use crate::routes::TokenResponse;
use crate::state::AppState;

/// Issues tokens for the `password` and `refresh_token` grants, so standard
/// OAuth 2.0 clients (and Swagger UI's Authorize button) work.
#[utoipa::path(post, path = "/auth/token", operation_id = "token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        LoginLimited, HashingUnavailable,
        (status = 413, description = "Body too large (`payload_too_large`)", body = Problem, content_type = "application/problem+json"),
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "An RFC 6749 §5.2 error (`invalid_request`, `invalid_grant`, `unsupported_grant_type`) as JSON, or a problem document (`malformed_request`) for a body that cannot be read", content(
            (OAuthError = "application/json"),
            (Problem = "application/problem+json"),
        )),
        (status = 403, description = "The password is correct but the user has MFA on (`mfa_required`, RFC 6749 style, with `mfa_token`)", body = OAuthError),
        (status = 415, description = "Not a form (`unsupported_media_type`)", body = Problem, content_type = "application/problem+json"),
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
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse::new(&tokens, None)))
}
