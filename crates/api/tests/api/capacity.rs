use std::sync::Arc;

use auth_infra::testing::Backend;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestApp};

/// With one hashing thread and no queue, a burst of log-ins gets 503
/// `service_unavailable` with `Retry-After` for the excess (never a 500, never
/// a hang), while requests that need no hashing keep being served.
async fn hashing_capacity_is_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |settings| {
        settings.hashing.max_concurrent = 1;
        settings.hashing.max_queue = 0;
        // The burst is about hashing capacity, not about log-in limits.
        settings.rate_limit.login_max_failures = 1000;
        settings.rate_limit.ip_per_minute = 0;
    })
    .await
    else {
        return;
    };
    let app = Arc::new(app);
    app.signed_up("flood@example.com").await;

    let attempts: Vec<_> = (0..40)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let response = app.login("flood@example.com", "wrong password here").await;
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").cloned();
                let body: Value = response.json().await.expect("json");
                (status, retry_after, body)
            })
        })
        .collect();
    let health = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);

    let (mut refused, mut answered) = (0, 0);
    for attempt in attempts {
        let (status, retry_after, body) = attempt.await.expect("joined");
        match status {
            401 => {
                assert_eq!(body["code"], "invalid_credentials");
                answered += 1;
            }
            503 => {
                assert_eq!(body["code"], "service_unavailable");
                assert!(retry_after.is_some(), "503 without Retry-After");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(answered >= 1, "no log-in was served");
    assert!(
        refused >= 1,
        "no log-in was refused although the queue is empty"
    );
    // Capacity comes back once the burst is over.
    let login = app.login("flood@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_capacity_is_bounded_sqlite() {
    hashing_capacity_is_bounded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_capacity_is_bounded_postgres() {
    hashing_capacity_is_bounded(Backend::Postgres).await;
}
