//! `POST /auth/refresh`.

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extractors::{RequestClient, ValidJson};
use crate::openapi::responses::{AddressLimited, DatabaseUnavailable, JsonBodyErrors};
use crate::routes::TokenResponse;
use crate::state::AppState;

/// A refresh.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token of the last token response.
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
}

/// Exchanges a refresh token for a new pair (the refresh token rotates).
#[utoipa::path(post, path = "/auth/refresh", operation_id = "refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        JsonBodyErrors, AddressLimited, DatabaseUnavailable,
        (status = 200, description = "A new token pair for the same session", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token (`invalid_refresh_token`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    RequestClient(client): RequestClient,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = state
        .sessions
        .refresh(body.refresh_token.expose_secret(), &client)
        .await?;
    Ok(HttpResponse::Ok().json(TokenResponse::new(&tokens, None)))
}
