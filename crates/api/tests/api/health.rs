use serde_json::{Value, json};

use crate::api_test;

api_test!(liveness_and_readiness, |app| {
    let live = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.headers().get("x-request-id").is_some());
    assert_eq!(live.json::<Value>().await.unwrap(), json!({"status": "ok"}));

    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ok", "database": "ok"})
    );
});

api_test!(request_ids_are_echoed_or_generated, |app| {
    let echoed = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc-123");

    let generated = app.client.get(app.url("/health")).send().await.unwrap();
    let first = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = app.client.get(app.url("/health")).send().await.unwrap();
    assert_ne!(first, again.headers()["x-request-id"].to_str().unwrap());
    assert!(uuid::Uuid::parse_str(&first).is_ok());

    // An id that is not a sane header token is replaced, not echoed.
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "x".repeat(500).as_str());
});

api_test!(openapi_document_describes_the_endpoints, |app| {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/health",
        "/health/ready",
        "/auth/signup",
        "/auth/login",
        "/users/me",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["paths"]["/auth/signup"]["post"]["responses"]["409"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
});
