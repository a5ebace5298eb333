//! Users: the account entity, its validated values, its ports, and the
//! use-cases of the account's owner ([`AccountService`]) and of
//! administrators ([`AdminService`]).

mod account;
mod admin;
mod display_name;
mod email;
mod model;
mod password;
mod ports;
#[cfg(test)]
mod tests_account;
#[cfg(test)]
mod tests_admin;

pub use account::{AccountError, AccountPorts, AccountService};
pub use admin::{AccessChanges, AdminError, AdminService};
pub use display_name::{DisplayName, DisplayNameError};
pub use email::{Email, EmailError};
pub use model::{Role, UnknownRole, User, UserId};
pub use password::{
    MAX_PASSWORD_LENGTH, Password, PasswordError, PasswordHash, PasswordPolicy,
    PasswordVerification,
};
pub use ports::{
    AccessUpdate, CreateUserError, HashError, PasswordChange, PasswordHasher, UserRepository,
};

#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockPasswordHasher, MockUserRepository};
