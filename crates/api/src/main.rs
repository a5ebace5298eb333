//! `authd`: parses the command line, loads settings, starts telemetry and
//! hands over to [`auth_api::cli::run`].

use std::process::ExitCode;

use auth_api::cli::{Cli, run};
use auth_api::settings::Settings;
use auth_api::telemetry;
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            // One line, whatever the cause's own formatting (a TOML parse
            // error spans several).
            let message = format!("{error:#}");
            let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("authd: {message}");
            return ExitCode::from(2);
        }
    };
    let _sentry = telemetry::init_sentry(&settings);
    telemetry::init(&settings);
    let result = actix_web::rt::System::new().block_on(run(cli, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "authd failed");
            eprintln!("authd: {error:#}");
            ExitCode::FAILURE
        }
    }
}
