//! The pure domain of Auth Module.
//!
//! Entities ([`user::User`], [`session::Session`], [`project::Project`]),
//! value objects that validate themselves ([`user::Email`],
//! [`user::Password`], [`user::DisplayName`], [`project::ProjectName`]), the
//! ports the outside world plugs into (repositories, password hasher, token
//! issuer and verifier, clock, id and secret generators), and the use-cases
//! built on them ([`auth::AuthService`]).
//!
//! Nothing here does I/O or knows about HTTP, SQL, JWT or Argon2: adapters live
//! in other crates. With the `mocks` feature every port has a `mockall` mock
//! (`MockUserRepository`, `MockPasswordHasher`, …) for unit tests.

pub mod auth;
pub mod common;
pub mod mail;
pub mod project;
pub mod session;
pub mod user;
