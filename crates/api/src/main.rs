//! `authd`: parses the command line, loads settings, starts telemetry and
//! hands over to [`auth_api::cli::run`].

use std::process::ExitCode;

use auth_api::cli::{Cli, Command, ConfigAction, check_config, run};
use auth_api::settings::Settings;
use auth_api::startup::ConfigurationError;
use auth_api::telemetry;
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => return configuration_error(&error),
    };
    // What serving needs beyond loading (a production secret, readable key
    // files) is a configuration error too: exit 2, before anything starts.
    match &cli.command {
        Some(Command::Config {
            action: ConfigAction::Check,
        }) => {
            return match check_config(&settings) {
                Ok(masked) => {
                    println!("{masked}");
                    ExitCode::SUCCESS
                }
                Err(error) => configuration_error(&error),
            };
        }
        None | Some(Command::Serve { .. }) => {
            if let Err(error) = check_config(&settings) {
                return configuration_error(&error);
            }
        }
        Some(_) => {}
    }
    let _sentry = telemetry::init_sentry(&settings);
    telemetry::init(&settings);
    let result = actix_web::rt::System::new().block_on(run(cli, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "authd failed");
            if error.chain().any(|cause| cause.is::<ConfigurationError>()) {
                return configuration_error(&error);
            }
            eprintln!("authd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reports a configuration error on one line (whatever the cause's own
/// formatting: a TOML parse error spans several) and exits 2.
fn configuration_error(error: &anyhow::Error) -> ExitCode {
    let message = format!("{error:#}");
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("authd: {message}");
    ExitCode::from(2)
}
