//! `GET /projects`.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::ProjectResponse;
use crate::error::{ApiError, Problem};
use crate::extractors::{CurrentUser, Pagination, encode_cursor};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable};
use crate::state::AppState;

/// A page of projects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    /// Newest first.
    pub items: Vec<ProjectResponse>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's projects, newest first.
#[utoipa::path(get, path = "/projects", operation_id = "list_projects", tag = "projects",
    security(("bearer" = []), ("oauth2" = [])),
    params(
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        BearerErrors, DatabaseUnavailable,
        (status = 200, description = "A page of projects", body = ProjectList),
        (status = 422, description = "Bad `limit` or `cursor` (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
    pagination: Pagination,
) -> Result<HttpResponse, ApiError> {
    let page = state.projects.list(caller.user.id, pagination.page).await?;
    Ok(HttpResponse::Ok().json(ProjectList {
        items: page.items.iter().map(ProjectResponse::from).collect(),
        next_cursor: page.next.as_ref().map(encode_cursor),
    }))
}
