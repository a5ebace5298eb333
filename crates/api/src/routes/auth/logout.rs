//! `POST /auth/logout`.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::extractors::{CurrentUser, RequestClient};
use crate::openapi::responses::{AddressLimited, BearerErrors, DatabaseUnavailable};
use crate::state::AppState;

/// Revokes the caller's session: its refresh tokens and every access token
/// carrying its `sid` stop working at once.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "auth",
    responses(
        BearerErrors, AddressLimited, DatabaseUnavailable,
        (status = 204, description = "Session revoked"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
    RequestClient(client): RequestClient,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .logout(caller.user.id, caller.session_id, &client)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
