//! Integration tests of the adapters, compiled as one binary to keep link
//! time down.
//!
//! The storage tests run through [`auth_infra::db_test!`]: once on a fresh
//! SQLite file and once on a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` names a server (the PostgreSQL variant returns early
//! otherwise). The JWT and mailer tests need no database; the mailer tests
//! run a minimal SMTP server of their own.

mod action_tokens;
mod audit;
mod connect;
mod fixtures;
mod jwt;
mod mailer;
mod mfa;
mod migrations;
mod outbox;
mod pagination;
mod projects;
mod rate_limits;
mod sessions;
mod users;
