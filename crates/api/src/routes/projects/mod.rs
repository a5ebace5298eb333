//! `/projects`: resources owned by the current user.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use auth_domain::project::Project;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A project as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectResponse {
    /// UUIDv7.
    pub id: Uuid,
    /// The owning user.
    pub owner_id: Uuid,
    /// 1 to 100 characters, unique per owner (case-insensitively).
    pub name: String,
    /// At most 2,000 characters.
    pub description: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: DateTime<Utc>,
    /// RFC 3339, UTC.
    pub updated_at: DateTime<Utc>,
}

impl From<&Project> for ProjectResponse {
    fn from(project: &Project) -> Self {
        Self {
            id: project.id.0,
            owner_id: project.owner_id.0,
            name: project.name.as_str().to_owned(),
            description: project.description.as_ref().map(|d| d.as_str().to_owned()),
            created_at: project.created_at,
            updated_at: project.updated_at,
        }
    }
}
