//! Logging and error reporting.

use secrecy::ExposeSecret as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::settings::{LogFormat, Settings};

/// The default filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber: an env filter (`RUST_LOG`), pretty or JSON
/// lines carrying the request span (and so its `request_id`), and, when
/// Sentry is on, a layer that sends ERROR events to it. Call once.
pub fn init(settings: &Settings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let format = match settings.log_format() {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
    };
    // ERROR events become Sentry events; nothing else is sent.
    let sentry = settings.sentry.dsn.as_ref().map(|_| {
        sentry::integrations::tracing::ErrorLayer::new()
            .with_filter(tracing_subscriber::filter::LevelFilter::ERROR)
    });
    // A second initialisation (tests start several apps) is harmless.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .with(sentry)
        .try_init();
}

/// Starts Sentry when a DSN is configured; keep the guard alive until exit.
#[must_use]
pub fn init_sentry(settings: &Settings) -> Option<sentry::ClientInitGuard> {
    // Parsed here rather than by `ClientOptions::dsn`, which panics on a bad
    // DSN; `Settings::validate` refused one already.
    let dsn = settings
        .sentry
        .dsn
        .as_ref()?
        .expose_secret()
        .parse::<sentry::types::Dsn>()
        .ok()?;
    let environment = settings.env.name().to_owned();
    let mut options = sentry::ClientOptions::new();
    options.dsn = Some(dsn);
    if let Some(release) = sentry::release_name!() {
        options = options.release(release);
    }
    let options = options.environment(environment).send_default_pii(false);
    Some(sentry::init(options))
}
