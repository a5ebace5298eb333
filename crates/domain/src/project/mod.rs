//! Projects: resources owned by a user.

mod model;
mod ports;

pub use model::{
    Project, ProjectDescription, ProjectDescriptionError, ProjectId, ProjectName, ProjectNameError,
};
pub use ports::{CreateProjectError, ProjectRepository};

#[cfg(any(test, feature = "mocks"))]
pub use ports::MockProjectRepository;
