//! What operators and client developers look at: `GET /metrics`, the Swagger
//! UI at `/docs` and the OpenAPI document at `/openapi.json`.

use serde_json::Value;

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem};

async fn metrics(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().expect("numeric sample"))
        })
}

/// The sum of the samples of `name` whose labels include every one of
/// `labels` (`key="value"`), whatever other labels they carry; `None` when
/// there is none.
fn sum_of(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?.strip_prefix('{')?;
            let set: Vec<&str> = rest.strip_suffix('}')?.split(',').collect();
            labels
                .iter()
                .all(|label| set.contains(label))
                .then(|| value.parse::<f64>().expect("numeric sample"))
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

async fn openapi(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

// --- /metrics -------------------------------------------------------------------

api_test!(metrics_count_requests_by_route_pattern_and_status, |app| {
    for _ in 0..3 {
        let response = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let signup = app.signed_up("metrics@example.com").await;
    let token = signup["access_token"].as_str().unwrap();
    let raw_id = uuid::Uuid::now_v7().to_string();
    let missing = app
        .client
        .get(app.url(&format!("/projects/{raw_id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let text = metrics(&app).await;
    let health = sample(
        &text,
        r#"http_requests_total{method="GET",route="/health",status="200"}"#,
    )
    .expect("a /health counter");
    assert!(health >= 3.0, "{health}");
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="POST",route="/auth/signup",status="201"}"#
        ),
        Some(1.0)
    );
    // Routes are labelled by their pattern, never by the raw path.
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/projects/{id}",status="404"}"#
        ),
        Some(1.0)
    );
    assert!(!text.contains(&raw_id), "a raw id leaked into the labels");

    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    let health = [r#"method="GET""#, r#"route="/health""#];
    let inf = sum_of(
        &text,
        "http_request_duration_seconds_bucket",
        &[health[0], health[1], r#"le="+Inf""#],
    )
    .expect("a +Inf bucket for /health");
    assert!(inf >= 3.0, "{inf}");
    let fast = sum_of(
        &text,
        "http_request_duration_seconds_bucket",
        &[health[0], health[1], r#"le="10""#],
    )
    .expect("a 10 s bucket for /health");
    assert!(fast <= inf, "buckets are cumulative");
    let count = sum_of(&text, "http_request_duration_seconds_count", &health)
        .expect("a latency count for /health");
    assert!((count - inf).abs() < f64::EPSILON, "{count} != {inf}");
    assert!(sum_of(&text, "http_request_duration_seconds_sum", &health).is_some());
    let depth = sample(&text, "password_hashing_queue_depth").expect("the hashing queue gauge");
    assert!(depth >= 0.0);

    // Unknown paths share one label instead of one series each.
    let unknown = app
        .client
        .get(app.url("/no/such/path/12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let text = metrics(&app).await;
    assert!(
        !text.contains("/no/such/path"),
        "a raw path leaked into the labels"
    );
});

api_test!(metrics_count_log_ins_by_outcome, |app| {
    app.signed_up("counted@example.com").await;
    let before = metrics(&app).await;
    let failed_before = sample(
        &before,
        r#"auth_logins_total{outcome="invalid_credentials"}"#,
    )
    .expect("the invalid_credentials counter");
    let succeeded_before =
        sample(&before, r#"auth_logins_total{outcome="success"}"#).expect("the success counter");

    let failed = app
        .login("counted@example.com", "not the right password")
        .await;
    assert_eq!(failed.status(), 401);
    let after = metrics(&app).await;
    assert_eq!(
        sample(
            &after,
            r#"auth_logins_total{outcome="invalid_credentials"}"#
        ),
        Some(failed_before + 1.0)
    );
    assert_eq!(
        sample(&after, r#"auth_logins_total{outcome="success"}"#),
        Some(succeeded_before)
    );

    let succeeded = app.login("counted@example.com", PASSWORD).await;
    assert_eq!(succeeded.status(), 200);
    let after = metrics(&app).await;
    assert_eq!(
        sample(&after, r#"auth_logins_total{outcome="success"}"#),
        Some(succeeded_before + 1.0)
    );
    assert_eq!(
        sample(
            &after,
            r#"auth_logins_total{outcome="invalid_credentials"}"#
        ),
        Some(failed_before + 1.0)
    );
});

api_test!(metrics_export_the_process_resources, |app| {
    let text = metrics(&app).await;
    for (name, kind) in [
        ("process_resident_memory_bytes", "gauge"),
        ("process_cpu_seconds_total", "counter"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} is not a {kind}:\n{text}"
        );
    }
    let resident = sample(&text, "process_resident_memory_bytes").expect("resident memory");
    assert!(resident > 1_000_000.0, "{resident} bytes resident");
    let cpu = sample(&text, "process_cpu_seconds_total").expect("CPU time");
    assert!(cpu >= 0.0, "{cpu}");
    let open = sample(&text, "process_open_fds").expect("open fds");
    assert!(open >= 3.0, "{open} open fds");
    let max = sample(&text, "process_max_fds").expect("max fds");
    assert!(max >= open, "{max} < {open}");
    let started = sample(&text, "process_start_time_seconds").expect("start time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started > 1_500_000_000.0 && started <= now + 1.0,
        "{started}"
    );
    // The CPU time only grows.
    for _ in 0..20 {
        app.client.get(app.url("/health")).send().await.unwrap();
    }
    let later = sample(&metrics(&app).await, "process_cpu_seconds_total").unwrap();
    assert!(later >= cpu, "{later} < {cpu}");
});

api_test!(concurrent_requests_are_each_counted_once, |app| {
    const REQUESTS: usize = 40;
    let series = r#"http_requests_total{method="GET",route="/health",status="200"}"#;
    let before = sample(&metrics(&app).await, series).unwrap_or(0.0);
    let requests = (0..REQUESTS).map(|_| async {
        let response = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    });
    futures_util::future::join_all(requests).await;
    let text = metrics(&app).await;
    assert_eq!(sample(&text, series), Some(before + REQUESTS as f64));
    let bucket = sum_of(
        &text,
        "http_request_duration_seconds_count",
        &[r#"method="GET""#, r#"route="/health""#, r#"status="200""#],
    );
    assert_eq!(bucket, Some(before + REQUESTS as f64));
});

api_test!(the_swagger_ui_is_labelled_by_its_route_template, |app| {
    for path in ["/docs/", "/docs/swagger-initializer.js"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let text = metrics(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{method="GET",route="/docs/{_:.*}",status="200"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert!(!text.contains("swagger-initializer"), "a raw path leaked");
});

api_test!(
    cors_preflights_are_labelled_by_their_route_template,
    settings | s | {
        s.server.cors_origins = vec!["https://app.example.com".into()];
    },
    |app| {
        let raw_id = uuid::Uuid::now_v7().to_string();
        for path in [format!("/projects/{raw_id}"), "/no/such/path".to_owned()] {
            let preflight = app
                .client
                .request(reqwest::Method::OPTIONS, app.url(&path))
                .header("Origin", "https://app.example.com")
                .header("Access-Control-Request-Method", "GET")
                .send()
                .await
                .unwrap();
            assert_eq!(preflight.status(), 204, "{path}");
        }
        let text = metrics(&app).await;
        assert_eq!(
            sample(
                &text,
                r#"http_requests_total{method="OPTIONS",route="/projects/{id}",status="204"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"http_requests_total{method="OPTIONS",route="unmatched",status="204"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert!(
            !text.contains(&raw_id) && !text.contains("/no/such"),
            "{text}"
        );
    }
);

// --- AUTH__METRICS__ADDRESS ---------------------------------------------------------

api_test!(
    metrics_can_be_turned_off,
    settings | s | {
        s.metrics.address = Some("off".into());
    },
    |app| {
        assert!(app.metrics_address.is_none());
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_problem(response, 404, "not_found").await;
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200, "the rest is served");
    }
);

api_test!(
    metrics_can_move_to_a_listener_of_their_own,
    settings | s | {
        s.metrics.address = Some("127.0.0.1:0".into());
    },
    |app| {
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_problem(response, 404, "not_found").await;
        app.signed_up("moved@example.com").await;

        let own = app.metrics_address.clone().expect("a metrics listener");
        let response = app
            .client
            .get(format!("{own}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("x-request-id").is_some());
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.unwrap();
        // The main listener's requests, counted in the same registry.
        assert_eq!(
            sample(
                &text,
                r#"http_requests_total{method="POST",route="/auth/signup",status="201"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"http_requests_total{method="GET",route="unmatched",status="404"}"#
            ),
            Some(1.0),
            "the main listener's /metrics is an unknown path: {text}"
        );
        assert!(sample(&text, "process_resident_memory_bytes").is_some());
        // Only /metrics lives there.
        for path in ["/health", "/auth/login", "/docs/"] {
            let response = app.client.get(format!("{own}{path}")).send().await.unwrap();
            assert_problem(response, 404, "not_found").await;
        }
        // The main listener's document does not promise what it does not serve.
        let document: serde_json::Value = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(document["paths"].get("/metrics").is_none());
        assert!(document["paths"].get("/health").is_some());
    }
);

// --- /docs ------------------------------------------------------------------------

api_test!(
    docs_serve_a_bundled_swagger_ui_for_the_openapi_document,
    |app| {
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // `/docs` is the page itself, for clients that follow no redirect;
        // its assets resolve under `/docs/`.
        let page = no_redirects.get(app.url("/docs")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"<base href="/docs/">"#), "{html}");
        assert!(html.contains("swagger-initializer.js"), "{html}");

        let page = app.client.get(app.url("/docs/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let content_type = page.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let html = page.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{html}");
        assert!(html.contains("swagger-initializer.js"), "{html}");
        // Served from the binary: no script or style from another host.
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );

        let initializer = app
            .client
            .get(app.url("/docs/swagger-initializer.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(initializer.status(), 200);
        let initializer = initializer.text().await.unwrap();
        assert!(initializer.contains("SwaggerUIBundle"), "{initializer}");
        assert!(
            initializer.contains(r#""url": "/openapi.json""#)
                || initializer.contains(r#"url: "/openapi.json""#)
                || initializer.contains(r#""url":"/openapi.json""#),
            "{initializer}"
        );

        let bundle = app
            .client
            .get(app.url("/docs/swagger-ui-bundle.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(bundle.status(), 200);
        assert!(bundle.bytes().await.unwrap().len() > 100_000);
    }
);

// --- /openapi.json ------------------------------------------------------------------

/// Every path and method of the contract (API.md).
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/.well-known/jwks.json"),
    ("post", "/auth/signup"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("post", "/auth/token"),
    ("post", "/auth/mfa/verify"),
    ("post", "/auth/verify-email/request"),
    ("post", "/auth/verify-email"),
    ("post", "/auth/password/forgot"),
    ("post", "/auth/password/reset"),
    ("get", "/users/me"),
    ("patch", "/users/me"),
    ("delete", "/users/me"),
    ("post", "/users/me/password"),
    ("post", "/users/me/mfa/totp"),
    ("delete", "/users/me/mfa/totp"),
    ("post", "/users/me/mfa/totp/confirm"),
    ("post", "/users/me/mfa/recovery-codes"),
    ("get", "/users/me/sessions"),
    ("delete", "/users/me/sessions"),
    ("get", "/users/me/audit"),
    ("delete", "/users/me/sessions/{id}"),
    ("get", "/projects"),
    ("post", "/projects"),
    ("get", "/projects/{id}"),
    ("patch", "/projects/{id}"),
    ("delete", "/projects/{id}"),
    ("get", "/admin/users"),
    ("get", "/admin/users/{id}"),
    ("patch", "/admin/users/{id}"),
    ("delete", "/admin/users/{id}/mfa"),
    ("get", "/admin/audit"),
];

api_test!(
    the_openapi_document_lists_every_operation_of_the_contract,
    |app| {
        let doc = openapi(&app).await;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut operation_ids = Vec::new();
        for (method, path) in CONTRACT {
            let operation = &doc["paths"][path][method];
            assert!(
                operation.is_object(),
                "{} {path} missing",
                method.to_uppercase()
            );
            let id = operation["operationId"].as_str().expect("operationId");
            operation_ids.push(id.to_owned());
        }
        let total = operation_ids.len();
        operation_ids.sort_unstable();
        operation_ids.dedup();
        assert_eq!(operation_ids.len(), total, "operationIds must be unique");

        // Nothing undocumented either.
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, CONTRACT.len());

        // Path parameters are declared.
        for (method, path) in CONTRACT.iter().filter(|(_, path)| path.contains("{id}")) {
            let parameters = doc["paths"][path][method]["parameters"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} has no parameters"));
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path" && p["required"] == true),
                "{method} {path}"
            );
        }
    }
);

api_test!(
    the_token_endpoint_takes_a_form_and_both_security_schemes_exist,
    |app| {
        let doc = openapi(&app).await;
        let token = &doc["paths"]["/auth/token"]["post"];
        let content = token["requestBody"]["content"].as_object().unwrap();
        assert_eq!(
            content.keys().collect::<Vec<_>>(),
            ["application/x-www-form-urlencoded"]
        );
        assert!(token["responses"]["200"].is_object());
        assert!(token["responses"]["400"]["content"]["application/json"].is_object());

        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["type"], "http");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["oauth2"]["type"], "oauth2");
        assert_eq!(
            schemes["oauth2"]["flows"]["password"]["tokenUrl"],
            "/auth/token"
        );

        // Authenticated operations accept either scheme; public ones ask none.
        let me = &doc["paths"]["/users/me"]["get"]["security"];
        let names: Vec<&str> = me
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|requirement| requirement.as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        assert_eq!(names, ["bearer", "oauth2"]);
        assert!(doc["paths"]["/auth/login"]["post"]["security"].is_null());
    }
);

api_test!(every_documented_error_is_a_problem_document, |app| {
    let doc = openapi(&app).await;
    for (method, path) in CONTRACT {
        let responses = doc["paths"][path][method]["responses"].as_object().unwrap();
        for (status, response) in responses {
            let code: u16 = status.parse().expect("numeric status");
            // The readiness probe's 503 has its own body, and the token
            // endpoint's `mfa_required` is RFC 6749 JSON (API.md).
            if code < 400
                || (*path == "/health/ready" && code == 503)
                || (*path == "/auth/token" && code == 403)
            {
                continue;
            }
            assert!(
                response["content"]["application/problem+json"]["schema"]["$ref"]
                    == "#/components/schemas/Problem",
                "{method} {path} {status} is not documented as a problem document"
            );
        }
        if path.starts_with("/auth/") {
            let limited = &responses["429"];
            assert!(limited.is_object(), "{method} {path} lacks 429");
            assert!(limited["headers"]["Retry-After"].is_object());
        }
    }
});
