//! `GET /projects`.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::ProjectResponse;
use crate::error::ApiError;
use crate::extractors::{CurrentUser, PageQuery, Pagination, encode_cursor};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable, PageErrors};
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
    params(PageQuery),
    responses(
        BearerErrors, DatabaseUnavailable, PageErrors,
        (status = 200, description = "A page of projects", body = ProjectList),
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
