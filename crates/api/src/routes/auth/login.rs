//! `POST /auth/login`.

use actix_web::{HttpResponse, web};
use auth_domain::auth::LoginCommand;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extractors::{RequestClient, ValidJson};
use crate::openapi::responses::{HashingUnavailable, JsonBodyErrors, LoginLimited};
use crate::routes::TokenResponse;
use crate::state::AppState;

/// A log-in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The account's e-mail address, in any case.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The account's password.
    #[schema(value_type = String, example = "correct horse battery staple")]
    pub password: SecretString,
}

/// Checks an e-mail address and password and opens a session.
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "auth",
    request_body = LoginRequest,
    responses(
        JsonBodyErrors, LoginLimited, HashingUnavailable,
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Unknown e-mail or wrong password (`invalid_credentials`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Account disabled (`account_disabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let result = state
        .auth
        .login(LoginCommand {
            email: body.email,
            password: body.password,
            client,
        })
        .await;
    state
        .metrics
        .observe_login(crate::metrics::login_outcome(&result));
    let (user, tokens) = result?;
    Ok(HttpResponse::Ok().json(TokenResponse::new(&tokens, Some(&user))))
}
