//! Black-box tests of the HTTP API: each test starts the real application on
//! port 0 with its own database (SQLite, and PostgreSQL when
//! `TEST_DATABASE_URL` is set) and talks HTTP to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod account;
mod admin;
mod audit;
mod availability;
mod capacity;
mod cli;
mod errors;
mod hardening;
mod hardening_edge;
mod health;
mod instances;
mod jwks;
mod login;
mod mail;
mod me;
mod mfa;
mod observability;
mod projects;
mod rate_limit;
mod sessions;
mod signup;
mod smtp;
mod telemetry;
mod token_endpoint;
