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
    Serve,
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
    use auth_domain::user::{AdminError, Email, Password, PasswordPolicy, Role};

    let db = open_database(settings).await?;
    Migrator::up(&db, None).await?;
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
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("email {e}"))?;
            let role: Role = role.parse()?;
            let user = services
                .admin
                .set_role_by_email(&email, role)
                .await
                .map_err(|e| match e {
                    AdminError::NotFound => anyhow::anyhow!("no user with this e-mail"),
                    AdminError::LastAdmin => anyhow::anyhow!("{e}"),
                    other => anyhow::Error::new(other),
                })?;
            println!("{} is now {}", user.email, user.role);
        }
    }
    Ok(())
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
    match cli.command.unwrap_or(Command::Serve) {
        Command::User { action } => user_command(action, &settings).await,
        Command::Keys {
            action: KeysAction::Generate { alg, out },
        } => {
            let kid = generate_key(&alg, &out)?;
            println!("wrote {alg} private key to {} (kid {kid})", out.display());
            Ok(())
        }
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await.context("server failed")
        }
        Command::Migrate { action } => {
            let db = open_database(&settings).await?;
            match action {
                MigrateAction::Up => {
                    Migrator::up(&db, None).await?;
                    println!("migrations applied");
                }
                MigrateAction::Down => {
                    Migrator::down(&db, Some(1)).await?;
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
