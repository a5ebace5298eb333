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
