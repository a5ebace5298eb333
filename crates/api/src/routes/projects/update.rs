//! `PATCH /projects/{id}`.

use actix_web::{HttpResponse, web};
use auth_domain::project::{ProjectChanges, ProjectDescription, ProjectId, ProjectName};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::ProjectResponse;
use crate::error::{ApiError, Fields, Problem};
use crate::extractors::{CurrentUser, PathId, ValidJson};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable, JsonBodyErrors, NotFound};
use crate::routes::Name;
use crate::state::AppState;

/// Changes to a project; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateProject {
    /// A new name: 1 to 100 characters after trimming, no control
    /// characters; not `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Name, required = false)]
    pub name: Option<Option<String>>,
    /// A new description of at most 2,000 characters, no NUL; `null`
    /// clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = r"^[^\x00]*$")]
    pub description: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Renames or re-describes one of the caller's projects.
#[utoipa::path(patch, path = "/projects/{id}", operation_id = "update_project", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    request_body = UpdateProject,
    responses(
        JsonBodyErrors, BearerErrors, DatabaseUnavailable, NotFound,
        (status = 200, description = "The updated project", body = ProjectResponse),
        (status = 409, description = "Name in use (`project_name_taken`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
    PathId(id): PathId<ProjectId>,
    ValidJson(body): ValidJson<UpdateProject>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::default();
    let mut changes = ProjectChanges::default();
    match body.name {
        None => {}
        Some(None) => fields.refuse("name", "must not be null"),
        Some(Some(raw)) => changes.name = fields.check("name", ProjectName::parse(&raw)),
    }
    if let Some(description) = body.description {
        changes.description = fields.check_optional(
            "description",
            description.as_deref().map(ProjectDescription::parse),
        );
    }
    let changes = fields.finish(Some(changes))?;
    let project = state.projects.update(caller.user.id, id, changes).await?;
    Ok(HttpResponse::Ok().json(ProjectResponse::from(&project)))
}
