use std::sync::Arc;
use std::time::Duration;

use auth_api::settings::Settings;
use auth_api::startup::Application;
use auth_infra::outbox::OutboxHandle;
use auth_infra::testing::{Backend, ManualClock, TestDatabase};
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

/// The HS256 secret every test app signs with.
pub const TEST_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long!";
/// A password that passes every rule.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running application and the database it uses (shared with the other
/// apps started on it by [`TestApp::spawn_sharing`]; removed when the last
/// of them is dropped).
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Arc<TestDatabase>,
    /// The time every instance on this database reads; tests move it
    /// instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// `http://127.0.0.1:<port>` of `/metrics`'s own listener, when
    /// `metrics.address` gives it one.
    pub metrics_address: Option<String>,
    /// This instance's mail worker, to drain it from the test.
    pub outbox: OutboxHandle,
}

/// One row of the mail outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub recipient: String,
    pub status: String,
    pub attempts: i32,
    pub claimed: bool,
    pub has_body: bool,
}

impl TestApp {
    /// Starts the app on `backend`; `None` for PostgreSQL without
    /// `TEST_DATABASE_URL`.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app with adjusted settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<Self> {
        let db = TestDatabase::new(backend).await?;
        Some(Self::spawn_on(Arc::new(db), Arc::new(ManualClock::default()), adjust).await)
    }

    /// Starts another app, with its own settings, on this app's database (as
    /// a second instance behind a load balancer, or the next deployment).
    pub async fn spawn_sharing(&self, adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_on(self.db.clone(), self.clock.clone(), adjust).await
    }

    async fn spawn_on(
        db: Arc<TestDatabase>,
        clock: Arc<ManualClock>,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = Settings::default();
        settings.database.url = db.url.clone();
        settings.server.port = 0;
        settings.server.workers = 2;
        settings.jwt.secret = Some(TEST_SECRET.into());
        adjust(&mut settings);
        let app = Application::build_with_clock(settings, clock.clone())
            .await
            .expect("build the app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics_address = app
            .metrics_port()
            .map(|port| format!("http://127.0.0.1:{port}"));
        let outbox = app.mail_outbox();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            address,
            client,
            db,
            clock,
            metrics_address,
            outbox,
        }
    }

    /// The mail queued on this database so far, oldest first. Every mail
    /// goes through the outbox, so this is every mail the app will ever
    /// send: tests count rows instead of waiting to see that nothing more
    /// arrives.
    pub async fn outbox_rows(&self) -> Vec<OutboxRow> {
        let db = &self.db.db;
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT recipient, status, attempts, claimed_until, body \
                 FROM mail_outbox ORDER BY created_at, id",
            ))
            .await
            .expect("read the outbox");
        rows.iter()
            .map(|row| OutboxRow {
                recipient: row.try_get("", "recipient").expect("recipient"),
                status: row.try_get("", "status").expect("status"),
                attempts: row.try_get("", "attempts").expect("attempts"),
                claimed: row
                    .try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "claimed_until")
                    .expect("claimed_until")
                    .is_some(),
                has_body: row
                    .try_get::<Option<String>>("", "body")
                    .expect("body")
                    .is_some(),
            })
            .collect()
    }

    /// Waits until mail is queued and every queued mail satisfies `done`
    /// (the worker runs in the background, and `forgot` queues its mail
    /// after answering), and returns the rows.
    pub async fn wait_for_outbox(&self, done: impl Fn(&OutboxRow) -> bool) -> Vec<OutboxRow> {
        for _ in 0..400 {
            let rows = self.outbox_rows().await;
            if !rows.is_empty() && rows.iter().all(&done) {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the outbox never settled: {:?}", self.outbox_rows().await);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn signup(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/auth/signup",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Signs up and returns the token response.
    pub async fn signed_up(&self, email: &str) -> Value {
        let response = self.signup(email, PASSWORD).await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("json")
    }

    /// `POST /auth/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json("/auth/refresh", &json!({"refresh_token": refresh_token}))
            .await
    }

    /// `POST /auth/logout` with `token`.
    pub async fn logout(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn me(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }
}

/// Asserts an RFC 9457 problem response with `status` and `code`, and
/// returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    assert!(
        response.headers().get("x-request-id").is_some(),
        "X-Request-Id missing"
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert!(body["type"].is_string(), "{body}");
    body
}

/// The field names of a `validation_failed` problem.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect()
}

/// Decodes a JWT's payload without checking it.
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json claims")
}

/// Defines a test that runs against an app on SQLite (`<name>::sqlite`) and on
/// PostgreSQL (`<name>::postgres`). With `settings |s| { ... }` before the
/// body, the settings are adjusted before the app starts.
#[macro_export]
macro_rules! api_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            async fn start(
                backend: auth_infra::testing::Backend,
            ) -> Option<$crate::helpers::TestApp> {
                $crate::helpers::TestApp::spawn(backend).await
            }

            $crate::api_test!(@variants);
        }
    };
    ($name:ident, settings |$settings:ident| $adjust:block, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            fn adjust($settings: &mut auth_api::settings::Settings) $adjust

            async fn start(
                backend: auth_infra::testing::Backend,
            ) -> Option<$crate::helpers::TestApp> {
                $crate::helpers::TestApp::spawn_with(backend, adjust).await
            }

            $crate::api_test!(@variants);
        }
    };
    (@variants) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            let app = start(auth_infra::testing::Backend::Sqlite)
                .await
                .expect("SQLite app");
            run(app).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            let Some(app) = start(auth_infra::testing::Backend::Postgres).await else {
                eprintln!("TEST_DATABASE_URL is unset: PostgreSQL variant not run");
                return;
            };
            run(app).await;
        }
    };
}
