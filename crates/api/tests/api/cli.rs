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
