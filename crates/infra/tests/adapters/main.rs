//! Integration tests of the adapters, compiled as one binary to keep link
//! time down.
//!
//! The storage tests run through [`auth_infra::db_test!`]: once on a fresh
//! SQLite file and once on a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` names a server (the PostgreSQL variant returns early
//! otherwise). The JWT tests need no database.

mod fixtures;
mod jwt;
mod migrations;
mod projects;
mod sessions;
mod users;
