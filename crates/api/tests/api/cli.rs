//! The `authd` binary: subcommands, exit codes and environment layering.

use std::process::{Command, Output};

use auth_migrations::MigratorTrait as _;

fn authd(args: &[&str], env: &[(&str, &str)]) -> Output {
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
    command.output().expect("run authd")
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

#[test]
fn serve_without_migrations_leaves_the_schema_alone() {
    let (dir, url) = temp_sqlite_url();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port()
        .to_string();
    let env = [
        ("AUTH__DATABASE__URL", url.as_str()),
        ("AUTH__SERVER__PORT", port.as_str()),
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(["serve", "--no-migrate"])
        .env_remove("DATABASE_URL")
        .envs(env)
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
    child.kill().ok();
    child.wait().ok();
    assert!(serving, "authd serve --no-migrate did not come up");
    let status = authd(
        &["migrate", "status"],
        &[("AUTH__DATABASE__URL", url.as_str())],
    );
    let listing = String::from_utf8_lossy(&status.stdout);
    assert!(!listing.contains("applied"), "{listing}");
    std::fs::remove_dir_all(dir).ok();
}
