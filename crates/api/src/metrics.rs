//! Prometheus metrics: request counts and latency by route and status,
//! log-in outcomes, the hashing queue and the process's own resources,
//! served as text (format 0.0.4) at `/metrics`.
//!
//! Built on `prometheus-client`: counters are atomics, each series of the
//! latency histogram has its own lock, and a request's labels are
//! `&'static str`s and a `u16`, so counting a request allocates nothing and
//! takes no lock shared by every request (the families' maps are behind a
//! read-write lock, taken for writing only when a series is first seen).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use async_trait::async_trait;
use auth_domain::audit::{AuditEvent, AuditFilter, AuditLog};
use auth_domain::common::{Page, PageRequest, StorageError};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

mod process;

pub use process::ProcessCollector;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of every request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Every log-in outcome, from [`login_outcome`].
const LOGIN_OUTCOMES: [&str; 7] = [
    "success",
    "invalid_credentials",
    "account_disabled",
    "rate_limited",
    "mfa_required",
    "invalid_mfa_code",
    "error",
];

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The method label: one of a closed set, so a client inventing methods
/// (`FOO1`, `FOO2`, …) cannot add series.
#[must_use]
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The route a request was answered by, as its template
/// (`/projects/{id}`). Registered as app data on each resource, so the
/// request pipeline reads it back without building a string; see
/// [`crate::routes::configure`].
#[derive(Debug, Clone, Copy)]
pub struct RouteTemplate(pub &'static str);

/// The route label of a finished request: the template its resource
/// carries, else the template of the route its path matches when it was
/// answered before routing (a CORS preflight) or by a service not built
/// here (the Swagger UI's files), else `None` (no route matched).
///
/// Only those last requests build the template as a string, and it is
/// interned: there are as many templates as routes, so the set is bounded.
#[must_use]
pub fn route_label(request: &actix_web::HttpRequest) -> Option<&'static str> {
    static INTERNED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
    > = std::sync::OnceLock::new();
    if let Some(template) = request.app_data::<RouteTemplate>() {
        return Some(template.0);
    }
    // No string is built when no route matches.
    let pattern = request.match_pattern()?;
    let mut interned = INTERNED.get_or_init(Default::default).lock().ok()?;
    if let Some(known) = interned.get(pattern.as_str()) {
        return Some(known);
    }
    let leaked: &'static str = Box::leak(pattern.into_boxed_str());
    interned.insert(leaked);
    Some(leaked)
}

/// One series of the request metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The process's metrics. Every label value comes from a closed set:
/// methods from [`method_label`], routes are the template of the route that
/// answered ([`RouteTemplate`]) or [`UNMATCHED_ROUTE`], never the raw path,
/// so no request can add a time series the application does not define.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    logins: Family<LoginLabels, Counter>,
    hashing_queue_depth: Gauge,
    hashing_workers: Gauge,
    hashes_finished: Counter,
    hashes_abandoned: Counter,
    audit_write_failures: Counter,
}

/// The hashing pool as `/metrics` shows it, read at each scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct HashingStats {
    /// Hashes waiting for a worker.
    pub queue_depth: usize,
    /// Threads computing hashes.
    pub workers: usize,
    /// Hashes computed since start.
    pub finished: u64,
    /// Hashes dropped unstarted since start, their client gone.
    pub abandoned: u64,
}

impl HashingStats {
    /// What `load` says now.
    #[must_use]
    pub fn of(load: &dyn auth_domain::common::HashingLoad) -> Self {
        Self {
            queue_depth: load.queue_depth(),
            workers: load.workers(),
            finished: load.finished(),
            abandoned: load.abandoned(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// The application's metrics, without process metrics.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            latency.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        for outcome in LOGIN_OUTCOMES {
            // Every outcome is exported from the start, at 0.
            drop(logins.get_or_create(&LoginLabels { outcome }));
        }
        registry.register("auth_logins", "Log-in attempts by outcome", logins.clone());
        let hashing_queue_depth = Gauge::default();
        registry.register(
            "password_hashing_queue_depth",
            "Password hashes waiting for a worker",
            hashing_queue_depth.clone(),
        );
        let hashing_workers = Gauge::default();
        registry.register(
            "password_hashing_workers",
            "Threads computing password hashes",
            hashing_workers.clone(),
        );
        let hashes_finished = Counter::default();
        registry.register(
            "password_hashes_finished",
            "Password hashes and verifications computed",
            hashes_finished.clone(),
        );
        let hashes_abandoned = Counter::default();
        registry.register(
            "password_hashes_abandoned",
            "Password hashes dropped before they started because their client had gone",
            hashes_abandoned.clone(),
        );
        let audit_write_failures = Counter::default();
        registry.register(
            "audit_write_failures",
            "Audit events that could not be stored",
            audit_write_failures.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            logins,
            hashing_queue_depth,
            hashing_workers,
            hashes_finished,
            hashes_abandoned,
            audit_write_failures,
        }
    }

    /// The application's metrics and this process's (resident memory, CPU
    /// time, file descriptors, start time), read from `/proc` at each
    /// scrape.
    #[must_use]
    pub fn with_process_metrics() -> Self {
        let mut metrics = Self::new();
        metrics
            .registry
            .register_collector(Box::new(ProcessCollector::new()));
        metrics
    }

    /// Counts one finished request. `route` is the template of the route
    /// that answered, `None` when no route matched.
    pub fn observe_request(
        &self,
        method: &Method,
        route: Option<&'static str>,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route.unwrap_or(UNMATCHED_ROUTE),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one log-in attempt by outcome (`success`,
    /// `invalid_credentials`, `account_disabled`, `rate_limited`, `error`).
    pub fn observe_login(&self, outcome: &'static str) {
        self.logins.get_or_create(&LoginLabels { outcome }).inc();
    }

    /// Counts one audit event that could not be stored.
    pub fn observe_audit_write_failure(&self) {
        self.audit_write_failures.inc();
    }

    /// The Prometheus text exposition (format 0.0.4), with the hashing
    /// pool's gauges and counters.
    #[must_use]
    pub fn render(&self, hashing: HashingStats) -> String {
        self.hashing_queue_depth
            .set(i64::try_from(hashing.queue_depth).unwrap_or(i64::MAX));
        self.hashing_workers
            .set(i64::try_from(hashing.workers).unwrap_or(i64::MAX));
        // The pool counts; the counters follow (they only ever go up).
        for (counter, total) in [
            (&self.hashes_finished, hashing.finished),
            (&self.hashes_abandoned, hashing.abandoned),
        ] {
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// An [`AuditLog`] that counts, in [`Metrics`], the events its inner log
/// failed to store (the use-cases log the failure and carry on).
#[allow(missing_debug_implementations)]
pub struct CountedAuditLog {
    inner: Arc<dyn AuditLog>,
    metrics: Arc<Metrics>,
}

impl CountedAuditLog {
    /// Counts the failures of `inner` in `metrics`.
    #[must_use]
    pub fn new(inner: Arc<dyn AuditLog>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl AuditLog for CountedAuditLog {
    async fn record(&self, event: &AuditEvent) -> Result<(), StorageError> {
        let result = self.inner.record(event).await;
        if result.is_err() {
            self.metrics.observe_audit_write_failure();
        }
        result
    }

    async fn list(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, StorageError> {
        self.inner.list(filter, page).await
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        self.inner.purge(before).await
    }
}

/// The outcome label of a log-in result.
#[must_use]
pub fn login_outcome<T>(result: &Result<T, auth_domain::auth::LoginError>) -> &'static str {
    use auth_domain::auth::LoginError;
    match result {
        Ok(_) => "success",
        Err(LoginError::InvalidCredentials) => "invalid_credentials",
        Err(LoginError::AccountDisabled) => "account_disabled",
        Err(LoginError::RateLimited { .. }) => "rate_limited",
        Err(LoginError::MfaRequired { .. }) => "mfa_required",
        Err(_) => "error",
    }
}

/// The outcome label of a log-in's second step (`POST /auth/mfa/verify`):
/// a log-in with a second factor counts once as `mfa_required`, then as
/// `success` or a failure here.
#[must_use]
pub fn mfa_login_outcome<T>(result: &Result<T, auth_domain::mfa::MfaVerifyError>) -> &'static str {
    use auth_domain::mfa::MfaVerifyError;
    match result {
        Ok(_) => "success",
        Err(MfaVerifyError::InvalidCode | MfaVerifyError::InvalidToken) => "invalid_mfa_code",
        Err(MfaVerifyError::AccountDisabled) => "account_disabled",
        Err(MfaVerifyError::RateLimited { .. }) => "rate_limited",
        Err(_) => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.observe_request(&Method::GET, Some("/health"), 200, Duration::from_millis(3));
        metrics.observe_request(
            &Method::GET,
            Some("/health"),
            200,
            Duration::from_millis(30),
        );
        metrics.observe_login("success");
        let text = metrics.render(HashingStats {
            queue_depth: 2,
            workers: 4,
            finished: 7,
            abandoned: 3,
        });
        assert!(
            text.contains("# TYPE http_requests_total counter"),
            "{text}"
        );
        assert!(text.contains("password_hashes_finished_total 7"), "{text}");
        assert!(text.contains("password_hashes_abandoned_total 3"), "{text}");
        assert!(
            text.contains("http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",status=\"200\",le=\"0.005\"} 1"
        ), "{text}");
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",status=\"200\",le=\"10\"} 2"
        ), "{text}");
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",status=\"200\",le=\"0.05\"} 2"
        ), "{text}");
        assert!(text.contains("auth_logins_total{outcome=\"success\"} 1"));
        assert!(text.contains("auth_logins_total{outcome=\"rate_limited\"} 0"));
        assert!(text.contains("password_hashing_queue_depth 2"));
        assert!(text.contains("password_hashing_workers 4"));
        // A later scrape shows the pool's newer totals, not a sum.
        let text = metrics.render(HashingStats {
            finished: 9,
            abandoned: 3,
            ..HashingStats::default()
        });
        assert!(text.contains("password_hashes_finished_total 9"), "{text}");
        assert!(text.contains("password_hashes_abandoned_total 3"), "{text}");
    }

    #[tokio::test]
    async fn failed_audit_writes_are_counted() {
        let mut inner = auth_domain::audit::MockAuditLog::new();
        inner
            .expect_record()
            .returning(|_| Err(StorageError::Unavailable(anyhow::anyhow!("down"))));
        let metrics = Arc::new(Metrics::default());
        assert!(
            metrics
                .render(HashingStats::default())
                .contains("audit_write_failures_total 0")
        );
        let log = CountedAuditLog::new(Arc::new(inner), metrics.clone());
        let event = AuditEvent {
            id: uuid::Uuid::nil(),
            kind: auth_domain::audit::AuditEventType::Logout,
            user_id: None,
            actor_id: None,
            ip: None,
            user_agent: None,
            created_at: Utc::now(),
            details: auth_domain::audit::AuditDetails::new(),
        };
        assert!(log.record(&event).await.is_err());
        assert!(log.record(&event).await.is_err());
        assert!(
            metrics
                .render(HashingStats::default())
                .contains("audit_write_failures_total 2")
        );
    }

    #[test]
    fn labels_come_from_closed_sets() {
        let metrics = Metrics::default();
        for i in 0..50 {
            let method = Method::from_bytes(format!("FOO{i}").as_bytes()).expect("method");
            metrics.observe_request(&method, None, 404, Duration::from_millis(1));
        }
        metrics.observe_request(&Method::TRACE, None, 405, Duration::from_millis(1));
        metrics.observe_request(&Method::OPTIONS, Some("/auth/login"), 204, Duration::ZERO);
        let text = metrics.render(HashingStats::default());
        assert!(text.contains(
            "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"404\"} 50"
        ));
        assert!(text.contains(
            "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"405\"} 1"
        ));
        assert!(text.contains(
            "http_requests_total{method=\"OPTIONS\",route=\"/auth/login\",status=\"204\"} 1"
        ));
        assert!(!text.contains("FOO"), "{text}");
        assert_eq!(text.matches("http_requests_total{").count(), 3);
    }
}
