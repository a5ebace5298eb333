//! The `authd` binary: subcommands, exit codes and environment layering.

use std::process::{Command, Output};

use auth_migrations::MigratorTrait as _;

/// `authd args…` with only `env` of our variables set.
fn authd_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
    command.args(args).env_remove("DATABASE_URL");
    for (key, _) in std::env::vars() {
        if key.starts_with("AUTH__") {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn authd(args: &[&str], env: &[(&str, &str)]) -> Output {
    authd_command(args, env).output().expect("run authd")
}

fn temp_sqlite_url() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("authd-cli-{}", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}/nested/auth.db?mode=rwc", dir.display());
    (dir, url)
}

#[test]
fn migrate_up_status_and_down() {
    let (dir, url) = temp_sqlite_url();
    let env = [("AUTH__DATABASE__URL", url.as_str())];

    let status = authd(&["migrate", "status"], &env);
    assert!(status.status.success(), "{status:?}");
    let listing = String::from_utf8_lossy(&status.stdout);
    let migrations = auth_migrations::Migrator::migrations().len();
    assert!(migrations >= 6);
    assert_eq!(listing.matches("pending").count(), migrations, "{listing}");
    assert!(dir.join("nested").is_dir(), "the SQLite folder is created");

    assert!(authd(&["migrate", "up"], &env).status.success());
    let listing = String::from_utf8_lossy(&authd(&["migrate", "status"], &env).stdout).into_owned();
    assert_eq!(listing.matches("applied").count(), migrations, "{listing}");

    assert!(authd(&["migrate", "down"], &env).status.success());
    let listing = String::from_utf8_lossy(&authd(&["migrate", "status"], &env).stdout).into_owned();
    assert_eq!(
        listing.matches("applied").count(),
        migrations - 1,
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .last()
            .expect("lines")
            .starts_with("pending"),
        "{listing}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn database_url_is_the_fallback() {
    let (dir, url) = temp_sqlite_url();
    let output = authd(&["migrate", "up"], &[("DATABASE_URL", url.as_str())]);
    assert!(output.status.success(), "{output:?}");
    assert!(dir.join("nested/auth.db").is_file());

    // AUTH__DATABASE__URL wins over DATABASE_URL.
    let (other_dir, other_url) = temp_sqlite_url();
    let output = authd(
        &["migrate", "up"],
        &[
            ("DATABASE_URL", url.as_str()),
            ("AUTH__DATABASE__URL", other_url.as_str()),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    assert!(other_dir.join("nested/auth.db").is_file());
    std::fs::remove_dir_all(dir).ok();
    std::fs::remove_dir_all(other_dir).ok();
}

#[test]
fn production_refuses_to_start_without_a_strong_secret() {
    let (dir, url) = temp_sqlite_url();
    for secret in [None, Some("short")] {
        let mut env = vec![
            ("AUTH__ENV", "production"),
            ("AUTH__DATABASE__URL", url.as_str()),
        ];
        if let Some(secret) = secret {
            env.push(("AUTH__JWT__SECRET", secret));
        }
        let output = authd(&["serve"], &env);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
        assert!(stderr.contains("secret"), "{stderr}");
    }
    assert!(!dir.exists(), "nothing was touched");
}

#[test]
fn environment_variables_are_typed() {
    let output = authd(
        &["migrate", "status"],
        &[("AUTH__SERVER__PORT", "not-a-port")],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("configuration"));
}

#[test]
fn openapi_prints_the_document() {
    let output = authd(&["openapi"], &[]);
    assert!(output.status.success(), "{output:?}");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    assert!(doc["paths"]["/auth/login"]["post"].is_object());
}

#[test]
fn config_check_masks_secrets_and_exits_2_on_a_bad_configuration() {
    let secret = "a-configuration-secret-of-sufficient-length-and-variety-0123";
    let output = authd(
        &["config", "check"],
        &[("AUTH__JWT__SECRET", secret), ("AUTH__ENV", "staging")],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains(secret), "{stdout}");
    assert!(stdout.contains("REDACTED"), "{stdout}");
    assert!(stdout.contains("staging"), "{stdout}");

    for env in [
        vec![("AUTH__ENV", "production")],
        vec![("AUTH__JWT__ALGORITHM", "ES256")],
        vec![("AUTH__JWT__ALGORITHM", "EdDSA")],
    ] {
        let output = authd(&["config", "check"], &env);
        assert_eq!(output.status.code(), Some(2), "{env:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn config_check_shows_the_metrics_address_and_refuses_a_bad_one() {
    let output = authd(
        &["config", "check"],
        &[
            ("AUTH__METRICS__ADDRESS", "127.0.0.1:9464"),
            (
                "AUTH__SENTRY__DSN",
                "https://sentry-key@o1.ingest.sentry.io/42",
            ),
            ("AUTH__SENTRY__RELEASE", "v1.2.3"),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("127.0.0.1:9464"), "{stdout}");
    assert!(stdout.contains("v1.2.3"), "{stdout}");
    assert!(!stdout.contains("sentry-key"), "{stdout}");

    for (key, value) in [
        ("AUTH__METRICS__ADDRESS", "9464"),
        ("AUTH__METRICS__ADDRESS", "http://127.0.0.1:9464/metrics"),
        ("AUTH__SENTRY__DSN", "not a dsn"),
    ] {
        for command in [&["config", "check"][..], &["serve"][..]] {
            let output = authd(command, &[(key, value)]);
            assert_eq!(output.status.code(), Some(2), "{key}={value}: {output:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port()
        .to_string();
    let output = authd(&["healthcheck"], &[("AUTH__SERVER__PORT", port.as_str())]);
    assert!(!output.status.success(), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_passes_against_a_running_server() {
    let app = crate::helpers::TestApp::spawn(auth_infra::testing::Backend::Sqlite)
        .await
        .expect("an SQLite app");
    let port = app.address.rsplit(':').next().expect("port").to_owned();
    let output = tokio::task::spawn_blocking(move || {
        authd(&["healthcheck"], &[("AUTH__SERVER__PORT", port.as_str())])
    })
    .await
    .expect("ran");
    assert!(output.status.success(), "{output:?}");
}

/// `GET path` from the server on 127.0.0.1:`port`: the status and the body.
fn get(port: &str, path: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};

    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `authd serve --no-migrate` on the empty database at `url`: it serves,
/// creates nothing, and reports not ready until `authd migrate up` has run
/// (beside it, as a deploy's migration job would).
fn serve_without_migrations_on(url: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port()
        .to_string();
    let env = [
        ("AUTH__DATABASE__URL", url),
        ("AUTH__SERVER__PORT", port.as_str()),
    ];
    let mut child = authd_command(&["serve", "--no-migrate"], &env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start authd");
    // Serving, so start-up (and any migration it would run) is over.
    let serving = (0..100).any(|_| {
        if authd(&["healthcheck"], &env).status.success() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        false
    });
    let outcome = std::panic::catch_unwind(|| {
        assert!(serving, "authd serve --no-migrate did not come up");
        let (status, body) = get(&port, "/health/ready");
        assert_eq!(status, 503, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({"status": "unavailable", "database": "migrations_pending"})
        );
        // Neither start-up nor the probe touched the schema.
        let status = authd(&["migrate", "status"], &[("AUTH__DATABASE__URL", url)]);
        let listing = String::from_utf8_lossy(&status.stdout);
        assert!(!listing.contains("applied"), "{listing}");

        let up = authd(&["migrate", "up"], &[("AUTH__DATABASE__URL", url)]);
        assert!(up.status.success(), "{up:?}");
        let (status, body) = get(&port, "/health/ready");
        assert_eq!(status, 200, "{body}");
    });
    child.kill().ok();
    child.wait().ok();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn serve_without_migrations_leaves_the_schema_alone_sqlite() {
    let (dir, url) = temp_sqlite_url();
    serve_without_migrations_on(&url);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_migrations_leaves_the_schema_alone_postgres() {
    let Some(db) = auth_infra::testing::TestDatabase::postgres_unmigrated().await else {
        return;
    };
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || serve_without_migrations_on(&url))
        .await
        .expect("ran");
    drop(db);
}

// --- AUTH__MFA__ENCRYPTION_KEY at start-up ---------------------------------

const STRONG_JWT_SECRET: &str = "a-configuration-secret-of-sufficient-length-and-variety-0123";

/// Starts `authd serve` and reads its log (stdout) until it says it is
/// listening, then stops it: `Ok` with the lines read. `Err` with the exit
/// status and stderr when it exits first.
fn serve_until_listening(
    env: &[(&str, &str)],
) -> Result<Vec<String>, (std::process::ExitStatus, String)> {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::Stdio;

    // The log is read for `listening` and warnings: the default filter.
    let mut child = authd_command(&["serve"], env)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start authd");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read the log");
        let listening = line.contains("listening");
        lines.push(line);
        if listening {
            child.kill().ok();
            child.wait().ok();
            return Ok(lines);
        }
    }
    // The log ended: the process is exiting.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait for authd");
    Err((status, stderr))
}

/// A migrated SQLite database in a folder of its own, with one user whose
/// MFA is on when `mfa_on`.
async fn database_with_a_user(mfa_on: bool) -> (std::path::PathBuf, String) {
    use auth_domain::audit::{AuditDetails, AuditEvent, AuditEventType};
    use auth_domain::mfa::{SealedSecret, SecondFactorRepository as _};
    use auth_domain::user::{Email, PasswordHash, Role, User, UserId, UserRepository as _};
    use auth_infra::sea_orm::{SeaOrmSecondFactorRepository, SeaOrmUserRepository};

    let (dir, url) = temp_sqlite_url();
    auth_infra::sea_orm::ensure_sqlite_parent_dir(&url).expect("create the folder");
    let db = auth_infra::sea_orm::connect(&url, 1)
        .await
        .expect("open the database");
    auth_migrations::Migrator::up(&db, None)
        .await
        .expect("migrate");
    let now = chrono::Utc::now();
    let event = |kind| AuditEvent {
        id: uuid::Uuid::now_v7(),
        kind,
        user_id: None,
        actor_id: None,
        ip: None,
        user_agent: None,
        created_at: now,
        details: AuditDetails::new(),
    };
    let user = User {
        id: UserId(uuid::Uuid::now_v7()),
        email: Email::parse("ada@example.com").expect("an address"),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        display_name: None,
        email_verified: true,
        role: Role::User,
        is_active: true,
        mfa_enabled: false,
        created_at: now,
        updated_at: now,
    };
    SeaOrmUserRepository::new(db.clone())
        .insert(&user, &event(AuditEventType::Signup))
        .await
        .expect("insert the user");
    // Pending or on: the factor row exists either way, only `enable` turns
    // the user's MFA on.
    let factors = SeaOrmSecondFactorRepository::new(db.clone());
    let secret = SealedSecret::from_stored("v1.sealed-under-a-lost-key".into());
    assert!(
        factors
            .start_enrolment(user.id, &secret, now)
            .await
            .expect("start")
    );
    if mfa_on {
        assert!(
            factors
                .enable(
                    user.id,
                    &secret,
                    1,
                    &[],
                    now,
                    &event(AuditEventType::MfaEnabled)
                )
                .await
                .expect("enable")
        );
    }
    db.close().await.expect("close");
    (dir, url)
}

#[test]
fn a_malformed_mfa_key_is_a_configuration_error() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    let (dir, url) = temp_sqlite_url();
    let not_base64 = "not base64 at all!".to_owned();
    let too_short = STANDARD.encode([7_u8; 16]);
    let too_long = STANDARD.encode([7_u8; 33]);
    // 32 bytes, but in the URL-safe alphabet.
    let url_safe = URL_SAFE.encode([0xfb_u8; 32]);
    assert!(url_safe.contains('-') || url_safe.contains('_'));
    for key in [&not_base64, &too_short, &too_long, &url_safe] {
        for command in [&["config", "check"][..], &["serve"][..]] {
            let output = authd(
                command,
                &[
                    ("AUTH__MFA__ENCRYPTION_KEY", key.as_str()),
                    ("AUTH__DATABASE__URL", url.as_str()),
                ],
            );
            assert_eq!(
                output.status.code(),
                Some(2),
                "{key} {command:?}: {output:?}"
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.contains("mfa.encryption_key"), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(
                !stderr.contains(key.as_str()),
                "the key is not echoed: {stderr}"
            );
        }
    }
    assert!(!dir.exists(), "nothing was touched");

    // A well-formed key passes, and is not shown.
    let key = STANDARD.encode([0xfb_u8; 32]);
    let output = authd(
        &["config", "check"],
        &[("AUTH__MFA__ENCRYPTION_KEY", key.as_str())],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains(&key), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_to_serve_users_with_mfa_on_without_the_key() {
    let (dir, url) = database_with_a_user(true).await;
    let served = tokio::task::spawn_blocking(move || {
        serve_until_listening(&[
            ("AUTH__ENV", "production"),
            ("AUTH__JWT__SECRET", STRONG_JWT_SECRET),
            ("AUTH__DATABASE__URL", url.as_str()),
            ("AUTH__SERVER__PORT", "0"),
        ])
    })
    .await
    .expect("ran");
    std::fs::remove_dir_all(dir).ok();
    let (status, stderr) = served.expect_err("production must not serve");
    assert_eq!(status.code(), Some(2), "{status:?}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("AUTH__MFA__ENCRYPTION_KEY"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_serves_without_the_key_while_no_user_has_mfa_on() {
    // A pending enrolment is not MFA on.
    let (dir, url) = database_with_a_user(false).await;
    let served = tokio::task::spawn_blocking(move || {
        serve_until_listening(&[
            ("AUTH__ENV", "production"),
            ("AUTH__JWT__SECRET", STRONG_JWT_SECRET),
            ("AUTH__DATABASE__URL", url.as_str()),
            ("AUTH__SERVER__PORT", "0"),
        ])
    })
    .await
    .expect("ran");
    std::fs::remove_dir_all(dir).ok();
    served.expect("production serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_without_a_key_serves_and_warns() {
    // Even with a user's MFA on: development makes a key of its own.
    let (dir, url) = database_with_a_user(true).await;
    let served = tokio::task::spawn_blocking(move || {
        serve_until_listening(&[
            ("AUTH__DATABASE__URL", url.as_str()),
            ("AUTH__SERVER__PORT", "0"),
        ])
    })
    .await
    .expect("ran");
    std::fs::remove_dir_all(dir).ok();
    let log = served.expect("development serves");
    assert!(
        log.iter().any(
            |line| line.contains("WARN") && line.contains("AUTH__MFA__ENCRYPTION_KEY is unset")
        ),
        "{log:#?}"
    );
}

#[test]
fn outside_production_a_short_secret_is_accepted() {
    for environment in ["development", "staging"] {
        let output = authd(
            &["config", "check"],
            &[("AUTH__ENV", environment), ("AUTH__JWT__SECRET", "short")],
        );
        assert!(
            output.status.success(),
            "{environment}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
