//! What a running `authd` tells its operators, seen from outside: the
//! binary itself runs (so `main`'s Sentry and log set-up is what is tested)
//! against a database of either backend, with a Sentry "server" inside the
//! test recording the envelopes it is sent, and its JSON log read from its
//! standard output.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_infra::testing::{Backend, TestDatabase};
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{PASSWORD, TEST_SECRET};

/// How long anything awaited here may take before the test gives up; only
/// a ceiling, never a measurement.
const CEILING: Duration = Duration::from_secs(30);

/// A stand-in for Sentry's ingestion API: records the body of every
/// `POST /api/<project>/envelope/`.
struct CaptureServer {
    port: u16,
    envelopes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl CaptureServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let envelopes = Arc::new(Mutex::new(Vec::new()));
        let recorded = envelopes.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, recorded.clone()));
            }
        });
        Self { port, envelopes }
    }

    fn dsn(&self) -> String {
        format!("http://public@127.0.0.1:{}/1", self.port)
    }

    /// The event items of every envelope received so far, parsed.
    fn events(&self) -> Vec<(Value, String)> {
        let envelopes = self.envelopes.lock().unwrap().clone();
        envelopes
            .iter()
            .flat_map(|body| {
                let text = String::from_utf8_lossy(body).into_owned();
                // Envelope header, then (item header, payload) pairs, one
                // JSON document per line.
                let lines: Vec<&str> = text.lines().collect();
                lines
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter_map(|(i, line)| {
                        let header: Value = serde_json::from_str(line).ok()?;
                        (header["type"] == "event").then(|| {
                            let payload = lines.get(i + 1).expect("an event payload");
                            (
                                serde_json::from_str::<Value>(payload).expect("event JSON"),
                                text.clone(),
                            )
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Answers HTTP/1.1 requests on one connection, recording envelope bodies.
async fn serve_connection(mut stream: tokio::net::TcpStream, envelopes: Arc<Mutex<Vec<Vec<u8>>>>) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0_u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().unwrap());
        assert!(
            !head.contains("content-encoding"),
            "a compressed envelope: {head}"
        );
        while buffer.len() < head_end + length {
            let mut chunk = [0_u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        }
        let body = buffer[head_end..head_end + length].to_vec();
        buffer.drain(..head_end + length);
        if head.starts_with("post /api/1/envelope/") {
            envelopes.lock().unwrap().push(body);
        }
        let answer =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if stream.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// A running `authd serve` and the lines of its standard output.
struct Authd {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Authd {
    /// Starts `authd serve` on `database_url` with JSON logs and `env`, and
    /// waits until it answers.
    async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
        command.arg("serve").env_remove("DATABASE_URL");
        for (key, _) in std::env::vars() {
            if key.starts_with("AUTH__") {
                command.env_remove(key);
            }
        }
        command
            .env("RUST_LOG", "info")
            .env("AUTH__DATABASE__URL", database_url)
            .env("AUTH__SERVER__PORT", &port)
            .env("AUTH__SERVER__WORKERS", "2")
            .env("AUTH__JWT__SECRET", TEST_SECRET)
            .env("AUTH__LOG__FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start authd");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                collected.lock().unwrap().push(line);
            }
        });
        let authd = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lines,
        };
        let client = reqwest::Client::new();
        let up = tokio::time::timeout(CEILING, async {
            loop {
                if let Ok(response) = client.get(authd.url("/health")).send().await
                    && response.status() == 200
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(up.is_ok(), "authd did not come up");
        authd
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server as an orchestrator would (SIGTERM) and waits for it
    /// to exit: on the way out it sends whatever Sentry events are queued.
    async fn stop(mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(terminated.success());
        let exited = tokio::time::timeout(CEILING, async {
            loop {
                if self.child.try_wait().unwrap().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if exited.is_err() {
            self.child.kill().ok();
            panic!("authd did not stop on SIGTERM");
        }
    }

    /// The parsed log lines up to the one saying the request `request_id`
    /// completed, waiting for it; lines that are not JSON fail the test.
    async fn log_until_completed(&self, request_id: &str) -> Vec<Value> {
        let found = tokio::time::timeout(CEILING, async {
            loop {
                let lines: Vec<Value> = self
                    .lines
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|line| {
                        serde_json::from_str(line)
                            .unwrap_or_else(|_| panic!("not a JSON line: {line}"))
                    })
                    .collect();
                if let Some(end) = lines.iter().position(|line| {
                    line["message"] == "request completed" && line["request_id"] == request_id
                }) {
                    break lines[..=end].to_vec();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        found.expect("the request's completion was never logged")
    }
}

impl Drop for Authd {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

async fn signed_up(client: &reqwest::Client, authd: &Authd, email: &str) -> Value {
    let response = client
        .post(authd.url("/auth/signup"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

// --- Sentry ---------------------------------------------------------------------------

/// A 500 with no backdoor: the stored hash of the user is made unreadable,
/// so the log-in fails inside the use-case (`LoginError::Unexpected`).
async fn a_server_error_reaches_sentry_once(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        eprintln!("TEST_DATABASE_URL is unset: PostgreSQL variant not run");
        return;
    };
    let sentry = CaptureServer::start().await;
    let dsn = sentry.dsn();
    let authd = Authd::start(
        &db.url,
        &[
            ("AUTH__SENTRY__DSN", dsn.as_str()),
            ("AUTH__ENV", "staging"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let tokens = signed_up(&client, &authd, "broken@example.com").await;
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    db.db
        .execute_unprepared(
            "UPDATE users SET password_hash = 'not-a-phc-string' \
             WHERE email = 'broken@example.com'",
        )
        .await
        .unwrap();

    let response = client
        .post(authd.url("/auth/login"))
        .bearer_auth(&access_token)
        .header("Cookie", format!("refresh={refresh_token}"))
        .json(&json!({"email": "broken@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // Dropping the Sentry guard on the way out sends what is queued, so
    // once the process has exited every event it made has arrived.
    authd.stop().await;

    let events = sentry.events();
    assert_eq!(events.len(), 1, "exactly one event: {events:#?}");
    let (event, envelope) = &events[0];
    assert_eq!(event["tags"]["request_id"], request_id.as_str(), "{event}");
    assert_eq!(event["environment"], "staging", "{event}");
    let build = option_env!("AUTH_GIT_SHA")
        .filter(|sha| !sha.trim().is_empty())
        .unwrap_or(env!("CARGO_PKG_VERSION"));
    assert_eq!(
        event["release"],
        format!("authd@{}", build.trim()),
        "{event}"
    );
    // Sentry leaves out the level of an error event, its default.
    assert!(
        event["level"].is_null() || event["level"] == "error",
        "{event}"
    );
    assert_eq!(event["message"], "request failed", "{event}");
    assert_eq!(event["request"]["method"], "POST", "{event}");
    for secret in [PASSWORD, access_token.as_str(), refresh_token.as_str()] {
        assert!(
            !envelope.contains(secret),
            "a secret of the request reached Sentry: {envelope}"
        );
    }
    assert!(
        !envelope.to_ascii_lowercase().contains("\"authorization\""),
        "{envelope}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_reaches_sentry_once_tagged_and_without_secrets_sqlite() {
    a_server_error_reaches_sentry_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_reaches_sentry_once_tagged_and_without_secrets_postgres() {
    a_server_error_reaches_sentry_once(Backend::Postgres).await;
}

// --- JSON logs --------------------------------------------------------------------------

/// Changing a password logs from inside the use-case's span
/// (`change_password`), nested in the request's span.
async fn every_log_line_of_a_request_carries_its_id(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        eprintln!("TEST_DATABASE_URL is unset: PostgreSQL variant not run");
        return;
    };
    let authd = Authd::start(&db.url, &[]).await;
    let client = reqwest::Client::new();
    let tokens = signed_up(&client, &authd, "logged@example.com").await;
    let signup_id = authd.log_until_completed_any().await;
    let response = client
        .post(authd.url("/users/me/password"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&json!({"current_password": PASSWORD, "new_password": "an entirely new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(request_id, signup_id);

    let lines = authd.log_until_completed(&request_id).await;
    // The lines after the previous request's last one are this request's.
    let start = lines
        .iter()
        .rposition(|line| {
            line["message"] == "request completed" && line["request_id"] == signup_id.as_str()
        })
        .expect("the sign-up's completion")
        + 1;
    let request_lines = &lines[start..];
    assert!(request_lines.len() >= 2, "{request_lines:#?}");
    for line in request_lines {
        assert_eq!(line["request_id"], request_id.as_str(), "{line}");
    }
    let inner = request_lines
        .iter()
        .find(|line| line["message"] == "password changed; other sessions revoked")
        .expect("the use-case's own line");
    assert_eq!(inner["spans"], json!(["http_request", "change_password"]));
    assert!(inner["user_id"].is_string(), "{inner}");
    let last = request_lines.last().unwrap();
    assert_eq!(last["status"], 204, "{last}");
    assert_eq!(last["path"], "/users/me/password", "{last}");
}

impl Authd {
    /// The request id of the first completed request, waiting for it.
    async fn log_until_completed_any(&self) -> String {
        let found = tokio::time::timeout(CEILING, async {
            loop {
                let id = self.lines.lock().unwrap().iter().find_map(|line| {
                    let line: Value = serde_json::from_str(line).ok()?;
                    (line["message"] == "request completed" && line["path"] != "/health")
                        .then(|| line["request_id"].as_str().map(str::to_owned))
                        .flatten()
                });
                if let Some(id) = id {
                    break id;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        found.expect("no request completed")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_log_line_of_a_request_carries_its_request_id_sqlite() {
    every_log_line_of_a_request_carries_its_id(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_log_line_of_a_request_carries_its_request_id_postgres() {
    every_log_line_of_a_request_carries_its_id(Backend::Postgres).await;
}
