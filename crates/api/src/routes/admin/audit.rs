//! `GET /admin/audit`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use auth_domain::audit::AuditFilter;
use auth_domain::user::UserId;
use uuid::Uuid;

use crate::error::{ApiError, FieldError, Problem};
use crate::extractors::{AdminUser, Pagination};
use crate::openapi::responses::{AdminErrors, DatabaseUnavailable};
use crate::routes::audit::{AuditEventList, AuditEventTypeName, parse_type};
use crate::state::AppState;

/// Every user's security events, newest first, optionally about one user
/// or of one type.
#[utoipa::path(get, path = "/admin/audit", operation_id = "list_audit_events", tag = "admin",
    security(("bearer" = []), ("oauth2" = [])),
    params(
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("user_id" = Option<Uuid>, Query, description = "Only events about this user"),
        ("type" = Option<AuditEventTypeName>, Query, description = "Only events of this type"),
    ),
    responses(
        AdminErrors, DatabaseUnavailable,
        (status = 200, description = "A page of events", body = AuditEventList),
        (status = 422, description = "Bad `limit`, `cursor`, `user_id` or `type` (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    _admin: AdminUser,
    pagination: Pagination,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let mut filter = AuditFilter::default();
    // Present but empty is no UUID and no type either: 422, as the
    // document's formats say.
    if let Some(raw) = pagination.param("user_id") {
        match Uuid::parse_str(raw) {
            Ok(id) => filter.user_id = Some(UserId(id)),
            Err(_) => errors.push(FieldError::new("user_id", "is not a UUID")),
        }
    }
    if let Some(raw) = pagination.param("type") {
        match parse_type(raw) {
            Ok(kind) => filter.kind = Some(kind),
            Err(e) => errors.push(FieldError::new("type", e)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let page = state.audit.list(filter, pagination.page).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuditEventList::from(&page)))
}
