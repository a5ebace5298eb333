//! `DELETE /projects/{id}`.

use actix_web::{HttpResponse, web};

use auth_domain::project::ProjectId;

use crate::error::ApiError;
use crate::extractors::{CurrentUser, PathId};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable, NotFound};
use crate::state::AppState;

/// Deletes one of the caller's projects.
#[utoipa::path(delete, path = "/projects/{id}", operation_id = "delete_project", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        BearerErrors, DatabaseUnavailable, NotFound,
        (status = 204, description = "Deleted"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
    PathId(id): PathId<ProjectId>,
) -> Result<HttpResponse, ApiError> {
    state.projects.delete(caller.user.id, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
