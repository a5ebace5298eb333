//! `POST /projects`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use auth_domain::project::{ProjectDescription, ProjectName};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ProjectResponse;
use crate::error::{ApiError, Fields, Problem};
use crate::extractors::{CurrentUser, ValidJson};
use crate::openapi::responses::{BearerErrors, DatabaseUnavailable, JsonBodyErrors};
use crate::routes::Name;
use crate::state::AppState;

/// A new project.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProject {
    /// 1 to 100 characters after trimming, no control characters.
    #[schema(value_type = Name, example = "Apollo")]
    pub name: String,
    /// At most 2,000 characters, no NUL.
    #[schema(max_length = 2000, pattern = r"^[^\x00]*$")]
    pub description: Option<String>,
}

/// Creates a project owned by the caller.
#[utoipa::path(post, path = "/projects", operation_id = "create_project", tag = "projects",
    request_body = CreateProject,
    responses(
        JsonBodyErrors, BearerErrors, DatabaseUnavailable,
        (status = 201, description = "Created; `Location` names it", body = ProjectResponse),
        (status = 409, description = "Name in use (`project_name_taken`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handle(
    state: web::Data<AppState>,
    caller: CurrentUser,
    ValidJson(body): ValidJson<CreateProject>,
) -> Result<HttpResponse, ApiError> {
    let mut fields = Fields::default();
    let name = fields.check("name", ProjectName::parse(&body.name));
    let description = fields.check_optional(
        "description",
        body.description.as_deref().map(ProjectDescription::parse),
    );
    let (name, description) = fields.finish(name.zip(description))?;
    let project = state
        .projects
        .create(caller.user.id, name, description)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/projects/{}", project.id)))
        .json(ProjectResponse::from(&project)))
}
