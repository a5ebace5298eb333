//! Liveness and readiness probes.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// How long the readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ok` or `unavailable`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `ok` or `unreachable`.
    #[schema(example = "ok")]
    pub database: &'static str,
}

/// The process is up; touches nothing external.
#[utoipa::path(get, path = "/health", operation_id = "live", tag = "health",
    responses((status = 200, description = "Alive", body = Live)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Live { status: "ok" })
}

/// The process can serve: the database answers.
#[utoipa::path(get, path = "/health/ready", operation_id = "ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "The database does not answer", body = Ready),
    ))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let reachable = matches!(
        tokio::time::timeout(READY_TIMEOUT, state.readiness.check()).await,
        Ok(Ok(()))
    );
    if reachable {
        HttpResponse::Ok().json(Ready {
            status: "ok",
            database: "ok",
        })
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(Ready {
                status: "unavailable",
                database: "unreachable",
            })
    }
}

/// Prometheus metrics: request counts and latency histograms by route and
/// status, log-in outcomes, hashing queue depth, and the process's memory,
/// CPU time and file descriptors. Served here unless
/// `AUTH__METRICS__ADDRESS` moves it to a listener of its own or turns it
/// off.
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let text = state
        .metrics
        .render(crate::metrics::HashingStats::of(state.hashing.as_ref()));
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(text)
}
