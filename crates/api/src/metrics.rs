//! Prometheus metrics: request counts and latency by route and status,
//! log-in outcomes and the hashing queue, served as text at `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::Method;
use async_trait::async_trait;
use auth_domain::audit::{AuditEvent, AuditFilter, AuditLog};
use auth_domain::common::{Page, PageRequest, StorageError};
use chrono::{DateTime, Utc};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of every request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

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

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// One series: method label, route template, status.
type SeriesKey = (&'static str, Arc<str>, u16);

#[derive(Debug, Default)]
struct Inner {
    /// Route templates seen so far, so a request's label is a reference
    /// count, not a new string.
    routes: BTreeSet<Arc<str>>,
    /// Requests per series; the count of requests is the histogram's.
    requests: BTreeMap<SeriesKey, Histogram>,
    logins: BTreeMap<&'static str, u64>,
}

/// The process's metrics. Every label value comes from a closed set:
/// methods from [`method_label`], routes are the matched route's template
/// (`/projects/{id}`) or [`UNMATCHED_ROUTE`], never the raw path, so no
/// request can add a time series the application does not define.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    audit_write_failures: AtomicU64,
}

impl Metrics {
    /// Counts one finished request. `route` is the template of the route
    /// that answered, `None` when no route matched.
    pub fn observe_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: u16,
        elapsed: Duration,
    ) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let route = route.unwrap_or(UNMATCHED_ROUTE);
        let route = if let Some(known) = inner.routes.get(route) {
            Arc::clone(known)
        } else {
            let interned: Arc<str> = Arc::from(route);
            inner.routes.insert(Arc::clone(&interned));
            interned
        };
        let histogram = inner
            .requests
            .entry((method_label(method), route, status))
            .or_default();
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// Counts one log-in attempt by outcome (`success`,
    /// `invalid_credentials`, `account_disabled`, `rate_limited`, `error`).
    pub fn observe_login(&self, outcome: &'static str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.logins.entry(outcome).or_default() += 1;
        }
    }

    /// Counts one audit event that could not be stored.
    pub fn observe_audit_write_failure(&self) {
        self.audit_write_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the hashing pool's gauges.
    #[must_use]
    pub fn render(&self, hashing_queue_depth: usize, hashing_workers: usize) -> String {
        let mut out = String::new();
        let Ok(inner) = self.inner.lock() else {
            return out;
        };
        out.push_str("# HELP http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((method, route, status), histogram) in &inner.requests {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                histogram.count
            );
        }
        out.push_str(
            "# HELP http_request_duration_seconds HTTP request latency by method, route and status.\n",
        );
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route, status), histogram) in &inner.requests {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        out.push_str("# HELP auth_logins_total Log-in attempts by outcome.\n");
        out.push_str("# TYPE auth_logins_total counter\n");
        for outcome in [
            "success",
            "invalid_credentials",
            "account_disabled",
            "rate_limited",
            "error",
        ] {
            let count = inner.logins.get(outcome).copied().unwrap_or(0);
            let _ = writeln!(out, "auth_logins_total{{outcome=\"{outcome}\"}} {count}");
        }
        out.push_str("# HELP password_hashing_queue_depth Password hashes waiting for a worker.\n");
        out.push_str("# TYPE password_hashing_queue_depth gauge\n");
        let _ = writeln!(out, "password_hashing_queue_depth {hashing_queue_depth}");
        out.push_str("# HELP password_hashing_workers Threads computing password hashes.\n");
        out.push_str("# TYPE password_hashing_workers gauge\n");
        let _ = writeln!(out, "password_hashing_workers {hashing_workers}");
        out.push_str("# HELP audit_write_failures_total Audit events that could not be stored.\n");
        out.push_str("# TYPE audit_write_failures_total counter\n");
        let _ = writeln!(
            out,
            "audit_write_failures_total {}",
            self.audit_write_failures.load(Ordering::Relaxed)
        );
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
        Err(_) => "error",
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
        let text = metrics.render(2, 4);
        assert!(
            text.contains("http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2")
        );
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",status=\"200\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("auth_logins_total{outcome=\"success\"} 1"));
        assert!(text.contains("auth_logins_total{outcome=\"rate_limited\"} 0"));
        assert!(text.contains("password_hashing_queue_depth 2"));
        assert!(text.contains("audit_write_failures_total 0"));
    }

    #[tokio::test]
    async fn failed_audit_writes_are_counted() {
        let mut inner = auth_domain::audit::MockAuditLog::new();
        inner
            .expect_record()
            .returning(|_| Err(StorageError::Unavailable(anyhow::anyhow!("down"))));
        let metrics = Arc::new(Metrics::default());
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
                .render(0, 1)
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
        let text = metrics.render(0, 1);
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
