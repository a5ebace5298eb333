//! The hardening rules of the HTTP edge: bounded metrics labels.

use reqwest::Method;
use serde_json::json;

use crate::api_test;
use crate::helpers::TestApp;

/// `method path` with an empty JSON object as body.
async fn send(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .json(&json!({}))
        .send()
        .await
        .expect("request")
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// A made-up method, `FOO{i}`.
fn made_up(i: usize) -> Method {
    Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap()
}

// --- Bounded metrics --------------------------------------------------------------

api_test!(made_up_methods_and_paths_add_no_time_series, |app| {
    // One request of each kind, then /metrics once so that its own series
    // exists before counting lines.
    assert_eq!(send(&app, made_up(0), "/made/up/0").await.status(), 404);
    assert_eq!(send(&app, made_up(0), "/health").await.status(), 405);
    assert_eq!(send(&app, Method::GET, "/made/up/0").await.status(), 404);
    metrics_text(&app).await;
    let before = metrics_text(&app).await;

    for i in 1..40 {
        let path = format!("/made/up/{}", uuid::Uuid::now_v7());
        assert_eq!(send(&app, made_up(i), &path).await.status(), 404);
        assert_eq!(send(&app, made_up(i), "/health").await.status(), 405);
        assert_eq!(send(&app, Method::GET, &path).await.status(), 404);
    }
    let after = metrics_text(&app).await;

    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "new series appeared:\n{after}"
    );
    assert!(!after.contains("FOO"), "a made-up method became a label");
    assert!(!after.contains("/made/up"), "a raw path became a label");
    assert!(
        after.contains(r#"http_requests_total{method="OTHER",route="unmatched",status="404"} 40"#)
    );
    assert!(
        after.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 40"#)
    );
    assert!(
        after.contains(r#"http_requests_total{method="OTHER",route="/health",status="405"} 40"#)
    );
});
