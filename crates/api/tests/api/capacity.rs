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

/// The sum of the samples of `/metrics` whose line starts with `prefix`.
fn metric(text: &str, prefix: &str) -> u64 {
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn metrics_text(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// A request that checks a password: its method, path, JSON body and
/// whether it carries the caller's access token.
struct PasswordRequest {
    method: &'static str,
    path: &'static str,
    body: &'static str,
    bearer: bool,
}

const WRONG_LOG_IN: PasswordRequest = PasswordRequest {
    method: "POST",
    path: "/auth/login",
    body: r#"{"email":"left@example.com","password":"wrong password here"}"#,
    bearer: false,
};

const WRONG_DELETION: PasswordRequest = PasswordRequest {
    method: "DELETE",
    path: "/users/me",
    body: r#"{"password":"wrong password here"}"#,
    bearer: true,
};

const WRONG_ENROLMENT: PasswordRequest = PasswordRequest {
    method: "POST",
    path: "/users/me/mfa/totp",
    body: r#"{"password":"wrong password here"}"#,
    bearer: true,
};

/// Clients that gave up on a request while it waited for a hashing thread
/// cost no hashing. actix-web would run their handlers to the end, so
/// without `stop_when_client_leaves` each would still be hashed, ahead of
/// every client that is still waiting.
async fn clients_that_left_are_not_hashed(backend: Backend, sent: &PasswordRequest) {
    use tokio::io::AsyncWriteExt as _;

    const CLIENTS: usize = 24;
    let Some(app) = TestApp::spawn_with(backend, |settings| {
        settings.hashing.max_concurrent = 1;
        settings.rate_limit.login_max_failures = 1000;
        settings.rate_limit.account_max_failures = 1000;
        settings.rate_limit.ip_per_minute = 0;
    })
    .await
    else {
        return;
    };
    let account = app.signed_up("left@example.com").await;
    let authorization = if sent.bearer {
        let token = account["access_token"].as_str().expect("access token");
        format!("Authorization: Bearer {token}\r\n")
    } else {
        String::new()
    };

    let address = app.url("").trim_start_matches("http://").to_owned();
    let request = format!(
        "{} {} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         {authorization}Content-Length: {}\r\n\r\n{}",
        sent.method,
        sent.path,
        sent.body.len(),
        sent.body
    );
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        client.write_all(request.as_bytes()).await.expect("send");
        clients.push(client);
    }
    // Once most requests wait for the one hashing thread, every client
    // gives up.
    let (waiting, hashed_before) = loop {
        let text = metrics_text(&app).await;
        let waiting = metric(&text, "password_hashing_queue_depth");
        if waiting >= 12 {
            break (waiting, metric(&text, "password_hashes_finished_total"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    drop(clients);

    // Wait until the server has finished with every one of them (each
    // request is counted once it is answered).
    let route = format!(
        r#"http_requests_total{{method="{}",route="{}""#,
        sent.method, sent.path
    );
    let text = loop {
        let text = metrics_text(&app).await;
        if metric(&text, &route) == CLIENTS as u64
            && metric(&text, "password_hashing_queue_depth") == 0
        {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // The thread may have been hashing for one of them, or started on one
    // more before its client was seen to leave; none of the rest ran.
    let hashed_after = metric(&text, "password_hashes_finished_total") - hashed_before;
    assert!(
        hashed_after <= 3,
        "{hashed_after} requests were hashed after their clients left \
         ({waiting} were waiting):\n{text}"
    );
    let abandoned = metric(&text, "password_hashes_abandoned_total");
    assert!(abandoned + 3 >= waiting, "{abandoned} abandoned:\n{text}");
    let dropped = metric(&text, &format!(r#"{route},status="499"}}"#));
    assert!(dropped >= abandoned, "{dropped} dropped:\n{text}");

    // A client that stays is served as ever.
    assert_eq!(app.login("left@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_ins_whose_clients_left_are_not_hashed_sqlite() {
    clients_that_left_are_not_hashed(Backend::Sqlite, &WRONG_LOG_IN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_ins_whose_clients_left_are_not_hashed_postgres() {
    clients_that_left_are_not_hashed(Backend::Postgres, &WRONG_LOG_IN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_whose_clients_left_are_not_hashed_sqlite() {
    clients_that_left_are_not_hashed(Backend::Sqlite, &WRONG_DELETION).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_whose_clients_left_are_not_hashed_postgres() {
    clients_that_left_are_not_hashed(Backend::Postgres, &WRONG_DELETION).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_enrolments_whose_clients_left_are_not_hashed_sqlite() {
    clients_that_left_are_not_hashed(Backend::Sqlite, &WRONG_ENROLMENT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_enrolments_whose_clients_left_are_not_hashed_postgres() {
    clients_that_left_are_not_hashed(Backend::Postgres, &WRONG_ENROLMENT).await;
}
