//! `GET /users/me`.

use actix_web::HttpResponse;

use crate::error::{ApiError, Problem};
use crate::extractors::CurrentUser;
use crate::routes::UserResponse;

/// The authenticated user.
#[utoipa::path(get, path = "/users/me", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = UserResponse),
        (status = 401, description = "Missing, invalid, expired or revoked token (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable (`service_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(caller: CurrentUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserResponse::from(&caller.user)))
}
