//! Users: the account entity, its validated values and its ports.

mod display_name;
mod email;
mod model;
mod password;
mod ports;
mod service;
#[cfg(test)]
mod tests_admin;

pub use display_name::{DisplayName, DisplayNameError};
pub use email::{Email, EmailError};
pub use model::{Role, UnknownRole, User, UserId};
pub use password::{
    MAX_PASSWORD_LENGTH, Password, PasswordError, PasswordHash, PasswordPolicy,
    PasswordVerification,
};
pub use ports::{AccessUpdate, CreateUserError, HashError, PasswordHasher, UserRepository};
pub use service::{AccessChanges, AdminError, AdminService};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockPasswordHasher, MockUserRepository};
