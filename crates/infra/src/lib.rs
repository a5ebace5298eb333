//! Adapters of Auth Module: the technology behind the domain's ports.
//!
//! - [`sea_orm`]: user, session and project repositories on SQLite and PostgreSQL.
//! - [`argon2`]: the Argon2id password hasher on a bounded blocking pool.
//! - [`jwt`]: the access-token issuer and verifier.
//! - [`session_cache`]: validated sessions in memory, invalidated on every
//!   revocation, across instances on PostgreSQL.
//! - [`mail`] and [`outbox`]: the SMTP and log mailers, and the worker that
//!   sends the mail queued in the database through them.
//! - [`system`]: clock, UUIDv7 ids and random secrets.
//! - [`totp`] and [`cipher`]: the TOTP second factor's code arithmetic
//!   (RFC 6238) and its secrets' encryption at rest (AES-256-GCM).

pub mod argon2;
pub mod blocking;
pub mod cipher;
pub mod jwt;
pub mod mail;
pub mod outbox;
pub mod sea_orm;
pub mod session_cache;
pub mod system;
pub mod totp;

#[cfg(feature = "testing")]
pub mod testing;
