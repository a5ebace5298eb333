//! The `authd` command line.

use std::path::PathBuf;

use anyhow::Context as _;
use auth_migrations::{Migrator, MigratorTrait as _};
use clap::{Parser, Subcommand};

use crate::settings::Settings;
use crate::startup::{Application, open_database};

/// Auth Module: an authentication service.
#[derive(Debug, Parser)]
#[command(name = "authd", version, about)]
pub struct Cli {
    /// A configuration file layered over the defaults and `config/*.toml`.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` by default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP.
    Serve {
        /// Serve without touching the schema (run `authd migrate up` once
        /// per deploy instead).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Check the configuration.
    Config {
        /// The configuration action.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Exit 0 when the server configured here answers `GET /health` (for
    /// container health checks: the image needs no curl).
    Healthcheck,
    /// Manage the database schema.
    Migrate {
        /// The migration action.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Manage users.
    User {
        /// The user action.
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage signing keys.
    Keys {
        /// The key action.
        #[command(subcommand)]
        action: KeysAction,
    },
}

/// `authd config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Load and validate the configuration and print it with secrets
    /// masked; exit 0 when it is usable, 2 when it is not.
    Check,
}

/// `authd user …`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user; the password is read from standard input when it is
    /// piped, otherwise prompted for without echo. Same rules as sign-up.
    Create {
        /// The new user's e-mail address.
        #[arg(long)]
        email: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password (read from standard input when it is piped,
    /// otherwise prompted for); every session of the user is revoked.
    SetPassword {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Disable a user: their sessions are revoked and they cannot log in.
    Disable {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Promote or demote a user.
    SetRole {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// `admin` or `user`.
        #[arg(long, value_parser = ["admin", "user"])]
        role: String,
    },
}

/// Reads a password: the first line of standard input when it is not a
/// terminal, else a prompt without echo (asked twice).
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        let password = password.strip_suffix('\r').unwrap_or(password);
        return Ok(password.to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    anyhow::ensure!(first == second, "the passwords differ");
    Ok(first)
}

async fn user_command(action: UserAction, settings: &Settings) -> anyhow::Result<()> {
    use auth_domain::auth::SignupError;
    use auth_domain::user::{Email, Password, PasswordPolicy, Role};

    let db = open_database(settings).await?;
    auth_migrations::apply_pending(&db).await?;
    // The command line issues no tokens: without a configured secret, a
    // throwaway one does (and needs no warning).
    let keys = if settings.jwt.algorithm == auth_infra::jwt::SigningAlgorithm::HS256
        && settings.jwt.secret.is_none()
    {
        use auth_domain::common::SecretGenerator as _;
        let secret = auth_infra::system::RandomSecretGenerator.generate();
        auth_infra::jwt::JwtKeys::hs256(secret.as_bytes())?
    } else {
        crate::startup::signing_keys(settings)?
    };
    let keys = std::sync::Arc::new(keys);
    let services = crate::startup::Services::wire(
        settings,
        db,
        keys,
        std::sync::Arc::new(auth_infra::system::SystemClock),
        std::sync::Arc::new(crate::metrics::Metrics::default()),
    )
    .await?;
    match action {
        UserAction::Create { email, admin } => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("email {e}"))?;
            let password = Password::parse(
                secrecy::SecretString::from(read_password()?),
                &PasswordPolicy {
                    min_length: settings.password.min_length,
                },
                Some(&email),
            )
            .map_err(|e| anyhow::anyhow!("password {e}"))?;
            let role = if admin { Role::Admin } else { Role::User };
            let user = services
                .auth
                .create_user(email, password, role)
                .await
                .map_err(|e| match e {
                    SignupError::EmailTaken => anyhow::anyhow!("a user with this e-mail exists"),
                    other => anyhow::Error::new(other),
                })?;
            println!("created {} {} ({})", user.role, user.email, user.id);
        }
        UserAction::SetRole { email, role } => {
            let role: Role = role.parse()?;
            let user = update_access(&services, &email, None, Some(role)).await?;
            println!("{} is now {}", user.email, user.role);
        }
        UserAction::Disable { email } => {
            let user = update_access(&services, &email, Some(false), None).await?;
            println!("{} is disabled; their sessions are revoked", user.email);
        }
        UserAction::Enable { email } => {
            let user = update_access(&services, &email, Some(true), None).await?;
            println!("{} is enabled", user.email);
        }
        UserAction::SetPassword { email } => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("email {e}"))?;
            let password = Password::parse(
                secrecy::SecretString::from(read_password()?),
                &PasswordPolicy {
                    min_length: settings.password.min_length,
                },
                Some(&email),
            )
            .map_err(|e| anyhow::anyhow!("password {e}"))?;
            let user = services
                .recovery
                .set_password(&email, &password)
                .await
                .map_err(|e| match e {
                    auth_domain::recovery::RecoveryError::UnknownUser => {
                        anyhow::anyhow!("no user with this e-mail")
                    }
                    other => anyhow::Error::new(other),
                })?;
            println!("password of {} set; every session revoked", user.email);
        }
    }
    Ok(())
}

/// Applies an access change to the user with this address.
async fn update_access(
    services: &crate::startup::Services,
    email: &str,
    is_active: Option<bool>,
    role: Option<auth_domain::user::Role>,
) -> anyhow::Result<auth_domain::user::User> {
    use auth_domain::user::{AccessChanges, AdminError, Email};
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("email {e}"))?;
    services
        .admin
        .update_access_by_email(&email, AccessChanges { is_active, role })
        .await
        .map_err(|e| match e {
            AdminError::NotFound => anyhow::anyhow!("no user with this e-mail"),
            AdminError::LastAdmin => anyhow::anyhow!("{e}"),
            other => anyhow::Error::new(other),
        })
}

/// Asks the server configured in `settings` for `GET /health` over plain
/// HTTP/1.1 (a wildcard listen address is reached on loopback).
///
/// # Errors
/// When nothing answers within two seconds or the answer is not 200.
pub fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    use std::io::{Read as _, Write as _};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs as _};
    use std::time::Duration;

    let timeout = Duration::from_secs(2);
    let host = match settings.server.host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() && ip.is_ipv4() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Ok(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Ok(ip) => ip,
        Err(_) => (settings.server.host.as_str(), settings.server.port)
            .to_socket_addrs()?
            .next()
            .context("the server host does not resolve")?
            .ip(),
    };
    let address = SocketAddr::new(host, settings.server.port);
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("nothing answers on {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0_u8; 32];
    let read = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    anyhow::ensure!(
        status_line.starts_with("HTTP/1.1 200"),
        "GET /health on {address} answered {:?}",
        status_line.lines().next().unwrap_or_default()
    );
    Ok(())
}

/// Loads nothing new: checks what serving needs beyond what loading the
/// settings already checked (a production secret, readable key files), and
/// returns the settings with every secret masked.
///
/// # Errors
/// The first problem found, worded for an operator.
pub fn check_config(settings: &Settings) -> anyhow::Result<String> {
    settings.validate_for_serving()?;
    crate::startup::signing_keys(settings)?;
    Ok(format!("{settings:#?}"))
}

/// `authd keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Write a new private key (PKCS#8 PEM, mode 0600) for
    /// `AUTH__JWT__PRIVATE_KEY_FILE`.
    Generate {
        /// `EdDSA` (Ed25519) or `RS256` (RSA 2048).
        #[arg(long, value_parser = ["EdDSA", "RS256"])]
        alg: String,
        /// Where to write it; an existing file is not overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Writes a new private key to `out` with mode 0600, refusing to overwrite.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn generate_key(alg: &str, out: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Write as _;
    let algorithm: auth_infra::jwt::SigningAlgorithm = alg.parse()?;
    let pem = auth_infra::jwt::generate_private_key_pem(algorithm)?;
    let kid = auth_infra::jwt::JwtKeys::asymmetric(algorithm, pem.as_bytes(), &[])?
        .signing_kid()
        .to_owned();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(out)
        .with_context(|| format!("could not create {} (it must not exist)", out.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(kid)
}

/// `authd migrate …`.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the most recent migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

/// Runs a parsed command line with loaded settings.
///
/// # Errors
/// Whatever the command fails with, for `main` to report.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve { no_migrate: false }) {
        Command::User { action } => user_command(action, &settings).await,
        Command::Keys {
            action: KeysAction::Generate { alg, out },
        } => {
            let kid = generate_key(&alg, &out)?;
            println!("wrote {alg} private key to {} (kid {kid})", out.display());
            Ok(())
        }
        Command::Serve { no_migrate } => {
            let app = if no_migrate {
                Application::build_without_migrations(settings).await?
            } else {
                Application::build(settings).await?
            };
            app.run_until_stopped().await.context("server failed")
        }
        Command::Openapi => {
            let metrics = settings.metrics.exposure()? == crate::settings::MetricsExposure::Main;
            let doc = crate::openapi::document(settings.password.min_length, metrics);
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!("{}", check_config(&settings)?);
            Ok(())
        }
        Command::Healthcheck => healthcheck(&settings),
        Command::Migrate { action } => {
            let db = open_database(&settings).await?;
            match action {
                MigrateAction::Up => {
                    auth_migrations::apply_pending(&db).await?;
                    println!("migrations applied");
                }
                MigrateAction::Down => {
                    auth_migrations::revert_latest(&db).await?;
                    println!("latest migration reverted");
                }
                MigrateAction::Status => {
                    let applied: Vec<String> = Migrator::get_applied_migrations(&db)
                        .await?
                        .iter()
                        .map(|m| m.name().to_owned())
                        .collect();
                    for migration in Migrator::migrations() {
                        let name = migration.name();
                        let status = if applied.iter().any(|a| a == name) {
                            "applied"
                        } else {
                            "pending"
                        };
                        println!("{status:8} {name}");
                    }
                }
            }
            Ok(())
        }
    }
}
