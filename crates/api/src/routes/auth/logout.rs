//! `POST /auth/logout`.

use actix_web::{HttpResponse, web};

use crate::error::{ApiError, Problem};
use crate::extractors::CurrentUser;
use crate::state::AppState;

/// Revokes the caller's session: its refresh tokens and every access token
/// carrying its `sid` stop working at once.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "auth",
    security(("bearer" = []), ("oauth2" = [])),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 401, description = "Missing, invalid, expired or revoked token (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address (`rate_limited`); see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "Database unavailable (`service_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    state
        .sessions
        .logout(caller.user.id, caller.session_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
