//! Projects: resources owned by a user.

mod model;
mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use model::{
    Project, ProjectDescription, ProjectDescriptionError, ProjectId, ProjectName, ProjectNameError,
};
pub use ports::{ProjectRepository, WriteProjectError};
pub use service::{ProjectChanges, ProjectError, ProjectService};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockProjectRepository;
