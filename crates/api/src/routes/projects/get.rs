//! `GET /projects/{id}`.

use actix_web::{HttpResponse, web};

use auth_domain::project::ProjectId;

use super::ProjectResponse;
use crate::error::ApiError;
use crate::extractors::{CurrentUser, PathId};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable, NotFound};
use crate::state::AppState;

/// One of the caller's projects.
#[utoipa::path(get, path = "/projects/{id}", operation_id = "get_project", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        BearerErrors, DatabaseUnavailable, NotFound,
        (status = 200, description = "The project", body = ProjectResponse),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
    PathId(id): PathId<ProjectId>,
) -> Result<HttpResponse, ApiError> {
    let project = state.projects.get(caller.user.id, id).await?;
    Ok(HttpResponse::Ok().json(ProjectResponse::from(&project)))
}
