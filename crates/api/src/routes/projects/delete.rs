//! `DELETE /projects/{id}`.

use actix_web::{HttpResponse, web};

use super::project_id;
use crate::error::{ApiError, Problem};
use crate::extractors::CurrentUser;
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable};
use crate::state::AppState;

/// Deletes one of the caller's projects.
#[utoipa::path(delete, path = "/projects/{id}", operation_id = "delete_project", tag = "projects",
    security(("bearer" = []), ("oauth2" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        BearerErrors, DatabaseUnavailable,
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such project of the caller (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .projects
        .delete(caller.user.id, project_id(&id)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
