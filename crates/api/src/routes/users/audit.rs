//! `GET /users/me/audit`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::{ApiError, Problem};
use crate::extractors::{CurrentUser, Pagination};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable};
use crate::routes::audit::AuditEventList;
use crate::state::AppState;

/// The security events about the caller's own account, newest first.
#[utoipa::path(get, path = "/users/me/audit", operation_id = "list_own_audit_events", tag = "users",
    security(("bearer" = []), ("oauth2" = [])),
    params(
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        BearerErrors, DatabaseUnavailable,
        (status = 200, description = "A page of the caller's events", body = AuditEventList),
        (status = 422, description = "Bad `limit` or `cursor` (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: CurrentUser,
    pagination: Pagination,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .audit
        .list_own(caller.user.id, pagination.page)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuditEventList::from(&page)))
}
