//! The hardening rules of the HTTP edge, each checked black-box: what a
//! client sends must not change how it is counted, labelled or answered.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{TestApp, assert_problem};

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

// --- Per-address limits follow the route --------------------------------------------

api_test!(
    the_address_limit_follows_the_route_not_its_spelling,
    settings | s | {
        s.rate_limit.ip_per_minute = 4;
    },
    |app| {
        // A wrong method keeps its 405 and `Allow`, and reaches the route.
        let wrong_method = send(&app, Method::GET, "/auth/login").await;
        assert_eq!(wrong_method.headers()["allow"], "POST");
        assert_problem(wrong_method, 405, "method_not_allowed").await;
        // Percent-encoded spellings reach the log-in handler and count.
        for path in ["/%61uth/login", "/auth/%6Cogin", "/auth/login"] {
            let response = send(&app, Method::POST, path).await;
            assert_problem(response, 422, "validation_failed").await;
        }
        assert_problem(
            send(&app, Method::POST, "/auth/login").await,
            429,
            "rate_limited",
        )
        .await;
        for path in [
            "/%61uth/signup",
            "/%61uth/refresh",
            "/%61uth/password/forgot",
            "/auth/%6Cogin",
            "/%61%75%74%68/token",
        ] {
            let response = send(&app, Method::POST, path).await;
            assert_problem(response, 429, "rate_limited").await;
        }
        // Spellings that are not the route reach no handler.
        for path in [
            "//auth/login",
            "/auth/login/",
            "/auth//login",
            "/AUTH/login",
        ] {
            let response = send(&app, Method::POST, path).await;
            assert_problem(response, 404, "not_found").await;
        }
        // Other routes are not counted.
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }
);

api_test!(
    every_documented_auth_route_is_behind_the_address_limit,
    settings | s | {
        s.rate_limit.ip_per_minute = 1;
    },
    |app| {
        let doc: Value = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let auth_paths: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|path| path.starts_with("/auth/"))
            .cloned()
            .collect();
        assert!(auth_paths.len() >= 9, "{auth_paths:?}");
        assert_ne!(send(&app, Method::POST, "/auth/login").await.status(), 429);
        for path in auth_paths {
            let response = send(&app, Method::POST, &path).await;
            assert_eq!(response.status(), 429, "{path} is not limited");
        }
    }
);

// --- X-Forwarded-For -----------------------------------------------------------------

/// A failed log-in through the trusted proxy at 127.0.0.1, which sent these
/// `X-Forwarded-For` header lines.
async fn login_through_proxy(app: &TestApp, forwarded_for: &[&str]) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({"email": "nobody@example.com", "password": "whatever it is"}));
    for line in forwarded_for {
        request = request.header("x-forwarded-for", *line);
    }
    request.send().await.expect("request")
}

api_test!(
    every_forwarded_for_line_is_read_and_the_proxys_own_counts,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.ip_per_minute = 2;
    },
    |app| {
        // The client writes a fresh first line each time; the proxy appends
        // the address it saw on a second line.
        for i in 0..2 {
            let response =
                login_through_proxy(&app, &[&format!("192.0.2.{i}"), "203.0.113.5"]).await;
            assert_eq!(response.status(), 401);
        }
        let blocked = login_through_proxy(&app, &["192.0.2.99", "203.0.113.5"]).await;
        assert_problem(blocked, 429, "rate_limited").await;
        // Another client of the same proxy has its own count.
        let other = login_through_proxy(&app, &["192.0.2.99", "203.0.113.6"]).await;
        assert_eq!(other.status(), 401);
    }
);

// --- IPv6 /64 ------------------------------------------------------------------------

api_test!(
    ipv6_clients_share_the_address_limit_of_their_64,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.ip_per_minute = 2;
    },
    |app| {
        for ip in ["2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"] {
            assert_eq!(login_through_proxy(&app, &[ip]).await.status(), 401);
        }
        let same_64 = login_through_proxy(&app, &["2001:db8:1:2::ffff"]).await;
        assert_problem(same_64, 429, "rate_limited").await;
        let other_64 = login_through_proxy(&app, &["2001:db8:1:3::1"]).await;
        assert_eq!(other_64.status(), 401);
        // An IPv4-mapped address counts as the IPv4 address.
        for ip in ["192.0.2.1", "::ffff:192.0.2.1"] {
            assert_eq!(login_through_proxy(&app, &[ip]).await.status(), 401);
        }
        let mapped = login_through_proxy(&app, &["::ffff:192.0.2.1"]).await;
        assert_problem(mapped, 429, "rate_limited").await;
    }
);

// --- Security headers ----------------------------------------------------------------

/// Asserts the headers every response carries, and returns its
/// `Cache-Control`.
fn assert_security_headers(response: &reqwest::Response) -> String {
    let what = format!("{} {}", response.status(), response.url().path());
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert!(headers.get("x-request-id").is_some(), "{what}");
    headers
        .get("cache-control")
        .unwrap_or_else(|| panic!("no Cache-Control on {what}"))
        .to_str()
        .unwrap()
        .to_owned()
}

api_test!(every_response_carries_the_security_headers, |app| {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signup = app
        .signup("headers@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(signup.status(), 201);
    assert_eq!(assert_security_headers(&signup), "no-store");
    let tokens: Value = signup.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let login = app
        .login("headers@example.com", crate::helpers::PASSWORD)
        .await;
    assert_eq!(login.status(), 200);
    assert_eq!(assert_security_headers(&login), "no-store");
    let me = app.me(token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(assert_security_headers(&me), "no-store");

    let responses = [
        (
            200,
            app.client.get(app.url("/health")).send().await.unwrap(),
        ),
        (
            200,
            app.client.get(app.url("/metrics")).send().await.unwrap(),
        ),
        (
            200,
            app.client
                .get(app.url("/openapi.json"))
                .send()
                .await
                .unwrap(),
        ),
        (200, app.client.get(app.url("/docs/")).send().await.unwrap()),
        (
            200,
            no_redirects.get(app.url("/docs")).send().await.unwrap(),
        ),
        (
            401,
            app.client.get(app.url("/users/me")).send().await.unwrap(),
        ),
        (
            404,
            app.client
                .get(app.url("/no/such/path"))
                .send()
                .await
                .unwrap(),
        ),
        (405, send(&app, Method::DELETE, "/health").await),
        (422, send(&app, Method::POST, "/auth/signup").await),
    ];
    for (status, response) in &responses {
        assert_eq!(response.status(), *status, "{}", response.url());
        assert_eq!(assert_security_headers(response), "no-store");
    }
    // Public keys are meant to be cached; they keep their own policy.
    let jwks = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    assert_eq!(assert_security_headers(&jwks), "public, max-age=300");
});

// --- CORS ----------------------------------------------------------------------------

const APP_ORIGIN: &str = "https://app.example.com";
const LOCAL_ORIGIN: &str = "http://localhost:3000";

/// A browser's preflight for `POST path` from `origin`.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("request")
}

/// The `access-control-*` headers of `response`.
fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

/// Whether `response` says `Vary: Origin`.
fn varies_by_origin(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

api_test!(without_listed_origins_there_is_no_cors, |app| {
    let preflight = preflight(&app, "/auth/login", APP_ORIGIN).await;
    assert!(cors_headers(&preflight).is_empty(), "{preflight:?}");
    assert_problem(preflight, 405, "method_not_allowed").await;
    let health = app
        .client
        .get(app.url("/health"))
        .header("origin", APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(cors_headers(&health).is_empty(), "{health:?}");
    assert!(!varies_by_origin(&health));
});

api_test!(
    listed_origins_get_preflights_and_cors_headers,
    settings | s | {
        s.server.cors_origins = vec![APP_ORIGIN.into(), LOCAL_ORIGIN.into()];
        s.rate_limit.ip_per_minute = 1;
    },
    |app| {
        // Preflights are answered before routing: never 405, never counted.
        for _ in 0..3 {
            let response = preflight(&app, "/auth/signup", APP_ORIGIN).await;
            assert_eq!(response.status(), 204);
            let headers = response.headers();
            assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
            let methods = headers["access-control-allow-methods"].to_str().unwrap();
            for method in ["GET", "POST", "PATCH", "DELETE"] {
                assert!(methods.contains(method), "{methods}");
            }
            assert_eq!(
                headers["access-control-allow-headers"],
                "Authorization, Content-Type"
            );
            let max_age: u32 = headers["access-control-max-age"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(max_age > 0);
            assert!(headers.get("access-control-allow-credentials").is_none());
            assert!(varies_by_origin(&response));
            assert_security_headers(&response);
        }

        // The actual request: the origin is allowed, credentials are not.
        let signup = app
            .client
            .post(app.url("/auth/signup"))
            .header("origin", APP_ORIGIN)
            .json(&json!({"email": "cors@example.com", "password": crate::helpers::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(signup.status(), 201);
        assert_eq!(signup.headers()["access-control-allow-origin"], APP_ORIGIN);
        assert!(
            signup
                .headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
        assert!(varies_by_origin(&signup));
        // Errors too, so that the page can read them.
        let limited = app
            .client
            .post(app.url("/auth/login"))
            .header("origin", LOCAL_ORIGIN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            limited.headers()["access-control-allow-origin"],
            LOCAL_ORIGIN
        );
        let exposed = limited.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(exposed.contains("Retry-After"), "{exposed}");
        assert_problem(limited, 429, "rate_limited").await;
        // Also the answers made from a bare status (a wrong method, or an
        // OPTIONS that is not a preflight): the page can read them too.
        for method in [Method::DELETE, Method::OPTIONS] {
            let wrong = app
                .client
                .request(method.clone(), app.url("/health"))
                .header("origin", APP_ORIGIN)
                .send()
                .await
                .unwrap();
            assert_eq!(
                wrong.headers()["access-control-allow-origin"],
                APP_ORIGIN,
                "{method}"
            );
            assert!(varies_by_origin(&wrong), "{method}");
            assert_eq!(wrong.headers()["allow"], "GET, HEAD", "{method}");
            assert_problem(wrong, 405, "method_not_allowed").await;
        }

        // Another origin gets no CORS header, and its preflight is an
        // ordinary OPTIONS request.
        for origin in [
            "https://evil.example.com",
            "https://app.example.com.evil.example",
            "null",
        ] {
            let refused = preflight(&app, "/health", origin).await;
            assert!(cors_headers(&refused).is_empty(), "{refused:?}");
            assert_problem(refused, 405, "method_not_allowed").await;
            let health = app
                .client
                .get(app.url("/health"))
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            assert_eq!(health.status(), 200);
            assert!(cors_headers(&health).is_empty(), "{health:?}");
            assert!(
                varies_by_origin(&health),
                "one URL, answers that differ by origin"
            );
        }
        // So does a request without Origin.
        let plain = app.client.get(app.url("/health")).send().await.unwrap();
        assert!(cors_headers(&plain).is_empty(), "{plain:?}");
    }
);

// --- Configuration, through the binary -----------------------------------------------

/// Runs `authd args` with only `env` of the `AUTH__` variables set, in `dir`
/// (so that no stray `config/` folder is read).
fn authd(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_authd"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL");
    for (key, _) in std::env::vars() {
        if key.starts_with("AUTH__") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run authd")
}

/// A fresh folder, with an SQLite URL inside it.
fn scratch() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("authd-edge-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}/auth.db?mode=rwc", dir.display());
    (dir, url)
}

/// Asserts that `output` is a configuration error: exit status 2 and one
/// line on standard error mentioning `needle`.
fn assert_config_error(output: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn cors_origins_are_a_checked_list_from_the_environment() {
    let (dir, url) = scratch();
    let listed = authd(
        &["migrate", "status"],
        &[
            ("AUTH__DATABASE__URL", &url),
            (
                "AUTH__SERVER__CORS_ORIGINS",
                "https://app.example.com,http://localhost:3000",
            ),
        ],
        &dir,
    );
    assert!(listed.status.success(), "{listed:?}");
    for bad in [
        "*",
        "https://app.example.com/",
        "https://app.example.com,app.example.com",
    ] {
        let refused = authd(
            &["migrate", "status"],
            &[
                ("AUTH__DATABASE__URL", &url),
                ("AUTH__SERVER__CORS_ORIGINS", bad),
            ],
            &dir,
        );
        assert_config_error(&refused, "cors_origins");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn any_environment_name_loads_its_own_file() {
    let (dir, _) = scratch();
    std::fs::create_dir_all(dir.join("config")).expect("config dir");
    let staging_db = dir.join("staging.db");
    std::fs::write(
        dir.join("config/staging.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}?mode=rwc\"\n",
            staging_db.display()
        ),
    )
    .expect("write");
    for name in ["staging", "Staging"] {
        let output = authd(&["migrate", "up"], &[("AUTH__ENV", name)], &dir);
        assert!(output.status.success(), "{output:?}");
        assert!(staging_db.is_file(), "config/staging.toml was not read");
        std::fs::remove_file(&staging_db).expect("remove");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn production_refuses_a_long_secret_of_one_letter() {
    let (dir, url) = scratch();
    let secret = "a".repeat(40);
    for command in [&["serve"][..], &["migrate", "status"]] {
        let output = authd(
            command,
            &[
                ("AUTH__ENV", "PRODUCTION"),
                ("AUTH__DATABASE__URL", &url),
                ("AUTH__JWT__SECRET", &secret),
            ],
            &dir,
        );
        assert_config_error(&output, "jwt.secret");
    }
    assert!(!dir.join("auth.db").exists(), "nothing was touched");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn empty_environment_values_mean_unset() {
    let (dir, url) = scratch();
    let output = authd(
        &["migrate", "status"],
        &[
            ("AUTH__DATABASE__URL", &url),
            ("AUTH__SENTRY__DSN", ""),
            ("AUTH__MAIL__SMTP_URL", ""),
            ("AUTH__JWT__SECRET", ""),
            ("AUTH__ENV", ""),
        ],
        &dir,
    );
    assert!(output.status.success(), "{output:?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn unparseable_urls_are_configuration_errors_not_panics() {
    let (dir, url) = scratch();
    for (key, value, named) in [
        ("AUTH__SENTRY__DSN", "not a dsn", "sentry.dsn"),
        ("AUTH__DATABASE__URL", "not a url", "database.url"),
        ("AUTH__MAIL__SMTP_URL", "not a url", "mail.smtp_url"),
        (
            "AUTH__MAIL__VERIFY_URL",
            "https://app.test/verify",
            "mail.verify_url",
        ),
        (
            "AUTH__MAIL__RESET_URL",
            "ftp://app.test/?token={token}",
            "mail.reset_url",
        ),
    ] {
        let mut env = vec![(key, value)];
        if key != "AUTH__DATABASE__URL" {
            env.push(("AUTH__DATABASE__URL", &url));
        }
        for command in [&["serve"][..], &["migrate", "status"]] {
            let output = authd(command, &env, &dir);
            assert_config_error(&output, named);
        }
    }
    // A TOML file that does not parse is one line too.
    std::fs::write(dir.join("broken.toml"), "[server\nport = \n").expect("write");
    let output = authd(
        &["--config", "broken.toml", "migrate", "status"],
        &[("AUTH__DATABASE__URL", &url)],
        &dir,
    );
    assert_config_error(&output, "configuration");
    assert!(!dir.join("auth.db").exists(), "nothing was touched");
    std::fs::remove_dir_all(dir).ok();
}
