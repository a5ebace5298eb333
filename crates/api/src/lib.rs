//! The HTTP API of Auth Module and the composition root of the `authd` binary.

pub mod cli;
pub mod cors;
pub mod error;
pub mod extractors;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
