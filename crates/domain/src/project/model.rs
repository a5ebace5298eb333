use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::common::{NameError, parse_name};
use crate::user::UserId;

/// The longest project description accepted, in characters.
pub const MAX_PROJECT_DESCRIPTION_LENGTH: usize = 2_000;

/// A project's id (a UUIDv7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(pub Uuid);

impl From<Uuid> for ProjectId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A project name: 1 to 100 characters after trimming, no control characters.
/// Unique per owner, compared case-insensitively.
///
/// ```
/// use auth_domain::project::ProjectName;
/// let name = ProjectName::parse("  Apollo ").unwrap();
/// assert_eq!(name.as_str(), "Apollo");
/// assert_eq!(name.key(), "apollo");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

/// Why a project name was refused: the rule all names share.
pub type ProjectNameError = NameError;

impl ProjectName {
    /// Trims and validates a name.
    ///
    /// # Errors
    /// [`ProjectNameError`] when blank, too long or holding control characters.
    pub fn parse(raw: &str) -> Result<Self, ProjectNameError> {
        parse_name(raw).map(Self)
    }

    /// Rebuilds a name read back from storage.
    #[must_use]
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The trimmed name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form uniqueness is checked on.
    #[must_use]
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A project description: at most 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectDescription(String);

/// Why a description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectDescriptionError {
    /// More than 2,000 characters.
    #[error("must be at most {MAX_PROJECT_DESCRIPTION_LENGTH} characters")]
    TooLong,
    /// A NUL character, which no text column of every supported database
    /// can store.
    #[error("must not contain NUL characters")]
    NulCharacter,
}

impl ProjectDescription {
    /// Validates a description.
    ///
    /// # Errors
    /// [`ProjectDescriptionError::TooLong`] past 2,000 characters,
    /// [`ProjectDescriptionError::NulCharacter`] for a NUL (PostgreSQL
    /// refuses it in text).
    pub fn parse(raw: &str) -> Result<Self, ProjectDescriptionError> {
        if raw.chars().count() > MAX_PROJECT_DESCRIPTION_LENGTH {
            return Err(ProjectDescriptionError::TooLong);
        }
        if raw.contains('\0') {
            return Err(ProjectDescriptionError::NulCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Rebuilds a description read back from storage.
    #[must_use]
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The description.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A resource owned by one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Stable id.
    pub id: ProjectId,
    /// The owning user.
    pub owner_id: UserId,
    /// Name, unique per owner.
    pub name: ProjectName,
    /// Optional description.
    pub description: Option<ProjectDescription>,
    /// When the project was created.
    pub created_at: DateTime<Utc>,
    /// When the project last changed.
    pub updated_at: DateTime<Utc>,
}
