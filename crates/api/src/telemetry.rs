//! Logging and error reporting.

use std::fmt;

use secrecy::ExposeSecret as _;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::{LogFormat, Settings};

/// The default filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber: an env filter (`RUST_LOG`), pretty or JSON
/// lines carrying the fields of every span they were logged in (and so the
/// request's `request_id`, even inside a use-case's span), and, when Sentry
/// is on, a layer that sends ERROR events to it. Call once.
pub fn init(settings: &Settings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let format = match settings.log_format() {
        LogFormat::Json => json_layer(std::io::stdout).boxed(),
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

/// The JSON log layer: one object per line, see [`FlatJson`].
pub fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson)
        .with_writer(writer)
}

/// One JSON object per event: `timestamp`, `level`, `target`, `spans` (the
/// names of the spans it was logged in, outermost first), then the fields of
/// those spans, outermost first, then the event's own (`message`, …); a
/// later field of the same name wins. So every line logged while a request
/// is handled carries the request span's `request_id`, `method` and `path`
/// at the top level, however deep the use-case span it came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut object = Map::new();
        object.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        object.insert("level".into(), metadata.level().as_str().into());
        object.insert("target".into(), metadata.target().into());
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            for span in scope.from_root() {
                names.push(Value::from(span.name()));
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<JsonFields>>()
                    .and_then(|fields| serde_json::from_str::<Map<String, Value>>(fields).ok());
                if let Some(fields) = fields {
                    object.extend(fields);
                }
            }
            object.insert("spans".into(), Value::Array(names));
        }
        event.record(&mut JsonVisitor(&mut object));
        writeln!(writer, "{}", Value::Object(object))
    }
}

/// Writes an event's fields into a JSON object.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// The release reported to Sentry: `AUTH__SENTRY__RELEASE` when set, else
/// `authd@` and the git commit the binary was built from (`AUTH_GIT_SHA` in
/// the build's environment, as the Dockerfile and CI set it), else `authd@`
/// and the crate version.
#[must_use]
pub fn sentry_release(settings: &Settings) -> String {
    settings.sentry.release.clone().unwrap_or_else(|| {
        let build = option_env!("AUTH_GIT_SHA")
            .filter(|sha| !sha.trim().is_empty())
            .unwrap_or(env!("CARGO_PKG_VERSION"));
        format!("authd@{}", build.trim())
    })
}

/// Starts Sentry when a DSN is configured; keep the guard alive until exit
/// (dropping it sends what is queued).
///
/// Events carry the environment as configured (`staging` stays
/// `staging`), the release ([`sentry_release`]) and, through the
/// per-request scope (`sentry-actix` in [`crate::startup`]), the request's
/// method, URL, headers other than credentials and its `request_id` tag.
/// No request body is ever sent, and `send_default_pii` stays off.
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
    let mut options = sentry::ClientOptions::new()
        .release(sentry_release(settings))
        .environment(settings.env.name().to_owned())
        .send_default_pii(false)
        // Bodies hold passwords and tokens.
        .max_request_body_size(sentry::MaxRequestBodySize::None);
    options.dsn = Some(dsn);
    Some(sentry::init(options))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_carries_the_fields_of_every_enclosing_span() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(json_layer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(
                "http_request",
                request_id = "req-42",
                user_id = tracing::field::Empty
            );
            let _request = request.enter();
            tracing::info!("in the request");
            request.record("user_id", "u-1");
            let use_case = tracing::info_span!("login", user_id = "u-2");
            let _use_case = use_case.enter();
            tracing::warn!(attempts = 3, "inside the use-case");
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &lines {
            assert_eq!(line["request_id"], "req-42", "{line}");
            assert!(line["timestamp"].is_string());
        }
        assert_eq!(lines[0]["message"], "in the request");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[1]["message"], "inside the use-case");
        assert_eq!(lines[1]["attempts"], 3);
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["user_id"], "u-2", "the innermost span wins");
        assert_eq!(
            lines[1]["spans"],
            serde_json::json!(["http_request", "login"])
        );
    }

    #[test]
    fn the_release_is_configurable() {
        let mut settings = Settings::default();
        assert!(sentry_release(&settings).starts_with("authd@"));
        settings.sentry.release = Some("2026.05.1".into());
        assert_eq!(sentry_release(&settings), "2026.05.1");
    }
}
