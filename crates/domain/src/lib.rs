//! The pure domain of Auth Module.
//!
//! Entities ([`user::User`], [`session::Session`], [`project::Project`]),
//! value objects that validate themselves ([`user::Email`],
//! [`user::Password`], [`user::DisplayName`], [`project::ProjectName`]), the
//! ports the outside world plugs into (repositories, password hasher, token
//! issuer and verifier, mailer, rate limiter, clock, id and secret
//! generators), and the use-cases built on them, one service per aggregate:
//! [`auth::AuthService`] (sign-up, log-in, authentication),
//! [`session::SessionService`] (refresh, log-out, revocation),
//! [`user::AccountService`] and [`user::AdminService`],
//! [`recovery::RecoveryService`] (mailed links), [`mfa::MfaService`] and
//! [`mfa::MfaChallengeService`] (the TOTP second factor) and
//! [`project::ProjectService`]. The security audit trail
//! ([`audit::AuditEvent`]) is recorded by those services through
//! [`audit::Auditor`] and read through [`audit::AuditService`].
//!
//! Nothing here does I/O or knows about HTTP, SQL, JWT or Argon2: adapters live
//! in other crates. With the `mocks` feature every port has a `mockall` mock
//! (`MockUserRepository`, `MockPasswordHasher`, …) for unit tests.

#![warn(missing_docs)]

pub mod audit;
pub mod auth;
pub mod common;
pub mod mail;
pub mod mfa;
pub mod project;
pub mod recovery;
pub mod session;
pub mod user;

#[cfg(test)]
mod testing;
