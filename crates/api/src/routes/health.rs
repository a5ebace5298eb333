//! Liveness and readiness probes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use auth_infra::sea_orm::DatabaseConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// How long the readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// With `authd serve --no-migrate`: whether the schema has every migration
/// this build needs. Read again on each probe until it has, then never.
#[derive(Debug)]
pub struct SchemaCheck {
    db: DatabaseConnection,
    current: AtomicBool,
}

impl SchemaCheck {
    /// A check of `db`'s schema, not yet known to be current.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            current: AtomicBool::new(false),
        }
    }

    async fn is_current(&self) -> bool {
        if self.current.load(Ordering::Relaxed) {
            return true;
        }
        let current = auth_migrations::pending(&self.db)
            .await
            .is_ok_and(|pending| pending.is_empty());
        if current {
            self.current.store(true, Ordering::Relaxed);
        }
        current
    }
}

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
    /// `ok`, `unreachable`, or `migrations_pending` when the server was
    /// started with `--no-migrate` on a schema that lacks migrations it
    /// needs (`authd migrate up` applies them; the probe sees it at once).
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
        (status = 503, description = "The database does not answer, or (after `serve --no-migrate`) lacks migrations", body = Ready),
    ))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let reachable = matches!(
        tokio::time::timeout(READY_TIMEOUT, state.readiness.check()).await,
        Ok(Ok(()))
    );
    let database = if !reachable {
        "unreachable"
    } else if let Some(schema) = &state.schema
        && !tokio::time::timeout(READY_TIMEOUT, schema.is_current())
            .await
            .unwrap_or(false)
    {
        "migrations_pending"
    } else {
        return HttpResponse::Ok().json(Ready {
            status: "ok",
            database: "ok",
        });
    };
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", "5"))
        .json(Ready {
            status: "unavailable",
            database,
        })
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
