//! Typed configuration, layered with the `config` crate.
//!
//! Order (later wins): built-in defaults, `config/default.toml`,
//! `config/$AUTH__ENV.toml`, the file given with `--config`, `DATABASE_URL`
//! (only when `AUTH__DATABASE__URL` is unset), then `AUTH__…` environment
//! variables (`AUTH__SERVER__PORT=9000` sets `server.port`).
//!
//! An empty value (`AUTH__SENTRY__DSN=`) means unset. URLs and the Sentry
//! DSN are parsed at load, so a typo is a configuration error, not a panic
//! or a failure at first use.
//!
//! Secrets (the JWT secret, the SMTP URL with its credentials, the Sentry
//! DSN) are held as [`SecretString`], and the database URL's password is
//! masked, so `{settings:?}` can be printed or logged.

use auth_infra::blocking::ThreadPriority;
use auth_infra::jwt::SigningAlgorithm;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context as _, bail};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer};

/// Different byte values an HS256 secret needs in production: `aaaa…` or
/// `abab…` is long enough and still guessable.
pub const MIN_DISTINCT_SECRET_BYTES: usize = 16;

/// The deployment environment, named by `AUTH__ENV` (compared lower-cased).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Environment {
    /// Local development: a missing JWT secret is generated, logs are pretty.
    #[default]
    Development,
    /// Production: a missing or weak secret stops start-up, logs are JSON.
    Production,
    /// Any other name (`staging`, `test`, …), lower-cased: development's
    /// defaults and checks, with its own `config/<name>.toml`.
    Other(String),
}

impl Environment {
    /// The environment called `name`, whatever its case; blank is
    /// development.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "" | "development" => Self::Development,
            "production" => Self::Production,
            _ => Self::Other(name),
        }
    }

    /// The lower-cased name, as in `config/<name>.toml`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
            Self::Other(name) => name,
        }
    }

    /// Whether the strict checks of production apply.
    #[must_use]
    pub fn is_production(&self) -> bool {
        *self == Self::Production
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|name| Self::from_name(&name))
    }
}

/// All settings.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    /// `AUTH__ENV`.
    pub env: Environment,
    /// `AUTH__SERVER__*`.
    pub server: ServerSettings,
    /// `AUTH__DATABASE__*`.
    pub database: DatabaseSettings,
    /// `AUTH__JWT__*`.
    pub jwt: JwtSettings,
    /// `AUTH__RATE_LIMIT__*`.
    pub rate_limit: RateLimitSettings,
    /// `AUTH__MAIL__*`.
    pub mail: MailSettings,
    /// `AUTH__SENTRY__*`.
    pub sentry: SentrySettings,
    /// `AUTH__LOG__*`.
    pub log: LogSettings,
    /// `AUTH__PASSWORD__*`.
    pub password: PasswordSettings,
    /// `AUTH__HASHING__*`.
    pub hashing: HashingSettings,
    /// `AUTH__SESSION_CACHE__*`.
    pub session_cache: SessionCacheSettings,
    /// `AUTH__METRICS__*`.
    pub metrics: MetricsSettings,
    /// `AUTH__MFA__*`.
    pub mfa: MfaSettings,
    /// `AUTH__AUDIT__*`.
    pub audit: AuditSettings,
}

/// `AUTH__MFA__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MfaSettings {
    /// The AES-256-GCM key sealing TOTP secrets at rest: 32 bytes, standard
    /// base64. Development without one generates one per process (and
    /// warns); production refuses to start without one once any user has
    /// MFA on.
    #[serde(deserialize_with = "non_empty_secret")]
    pub encryption_key: Option<SecretString>,
    /// The issuer authenticator apps show next to the account.
    pub issuer: String,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self {
            encryption_key: None,
            issuer: "Auth Module".to_owned(),
        }
    }
}

/// `AUTH__SERVER__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Browser origins (`https://app.example.com`) allowed to call the API
    /// cross-origin; empty turns CORS off.
    pub cors_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// HTTP worker threads; 0 means one per CPU.
    pub workers: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            body_limit_bytes: 64 * 1024,
            workers: 0,
        }
    }
}

/// An optional secret in which an empty value, as `dsn = ""` in a file,
/// means unset (empty environment variables are skipped before this).
fn non_empty_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<SecretString>::deserialize(deserializer)?
        .filter(|secret| !secret.expose_secret().is_empty()))
}

/// `AUTH__DATABASE__*`.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Largest connection pool.
    pub max_connections: u32,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &without_password(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// `url` with its password, if any, replaced by `REDACTED`: the one in
/// the user-info part and a `password` query parameter (which libpq and
/// sqlx accept too).
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only URLs that cannot have credentials refuse this.
                let _ = parsed.set_password(Some("REDACTED"));
            }
            let has_secret_parameter = parsed
                .query_pairs()
                .any(|(name, _)| name.eq_ignore_ascii_case("password"));
            if has_secret_parameter {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(name, value)| {
                        let value = if name.eq_ignore_ascii_case("password") {
                            "REDACTED".to_owned()
                        } else {
                            value.into_owned()
                        };
                        (name.into_owned(), value)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => "[unparseable URL]".to_owned(),
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/auth.db?mode=rwc".into(),
            max_connections: 10,
        }
    }
}

/// `AUTH__JWT__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct JwtSettings {
    /// `HS256`, `EdDSA` or `RS256`; any other name is a configuration
    /// error.
    pub algorithm: SigningAlgorithm,
    /// The HS256 secret (at least 32 bytes).
    #[serde(deserialize_with = "non_empty_secret")]
    pub secret: Option<SecretString>,
    /// PEM private key for EdDSA / RS256.
    pub private_key_file: Option<String>,
    /// PEM keys that still verify and are published, comma-separated.
    pub retired_key_files: Vec<String>,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl_secs: u32,
    /// Refresh-token lifetime.
    pub refresh_ttl_secs: u32,
    /// How long a rotated refresh token may be replayed.
    pub refresh_reuse_grace_secs: u32,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            algorithm: SigningAlgorithm::HS256,
            secret: None,
            private_key_file: None,
            retired_key_files: Vec::new(),
            issuer: "auth-module".into(),
            audience: "auth-module".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 2_592_000,
            refresh_reuse_grace_secs: 10,
        }
    }
}

/// `AUTH__RATE_LIMIT__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Failed logins per account and client IP in the window.
    pub login_max_failures: u32,
    /// The window, in seconds.
    pub login_window_secs: u32,
    /// Failed logins per account from all IPs in the window.
    pub account_max_failures: u32,
    /// Requests per client IP and minute on `/auth/*`; 0 disables.
    pub ip_per_minute: u32,
    /// Verification and reset mails per address and hour.
    pub mail_per_hour: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            login_max_failures: 10,
            login_window_secs: 900,
            account_max_failures: 100,
            ip_per_minute: 120,
            mail_per_hour: 5,
        }
    }
}

/// `AUTH__MAIL__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    /// SMTP server, credentials included; none writes mail to the log.
    #[serde(deserialize_with = "non_empty_secret")]
    pub smtp_url: Option<SecretString>,
    /// Sender address.
    pub from: String,
    /// E-mail verification link, with `{token}`.
    pub verify_url: String,
    /// Password reset link, with `{token}`.
    pub reset_url: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "no-reply@localhost".into(),
            verify_url: "http://localhost:3000/verify-email?token={token}".into(),
            reset_url: "http://localhost:3000/reset-password?token={token}".into(),
        }
    }
}

/// `AUTH__SENTRY__*`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SentrySettings {
    /// Sentry DSN (its key is a credential); none turns Sentry off.
    #[serde(deserialize_with = "non_empty_secret")]
    pub dsn: Option<SecretString>,
    /// The release events are reported under; by default `authd@` and the
    /// git commit the binary was built from, else its version.
    #[serde(deserialize_with = "non_empty_string")]
    pub release: Option<String>,
}

/// An optional string in which an empty value means unset.
fn non_empty_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|value| !value.trim().is_empty()))
}

/// `AUTH__METRICS__*`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct MetricsSettings {
    /// Where `GET /metrics` is served: unset (or empty) on the main
    /// listener, `off` (or `none`) nowhere, `host:port` on a listener of its
    /// own (and not on the main one).
    pub address: Option<String>,
}

/// Where `GET /metrics` is served, from [`MetricsSettings::address`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsExposure {
    /// On the main listener (the default).
    Main,
    /// Nowhere: `/metrics` answers 404.
    Off,
    /// On a listener of its own at this `host:port`; 404 on the main one.
    Separate(String),
}

impl MetricsSettings {
    /// Where `/metrics` is served.
    ///
    /// # Errors
    /// When the address is neither `off`/`none` nor `host:port` with a port
    /// number.
    pub fn exposure(&self) -> anyhow::Result<MetricsExposure> {
        let Some(address) = self
            .address
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        else {
            return Ok(MetricsExposure::Main);
        };
        if address.eq_ignore_ascii_case("off") || address.eq_ignore_ascii_case("none") {
            return Ok(MetricsExposure::Off);
        }
        // An IPv6 address is bracketed (`[::1]:9464`), as in a URL.
        let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
            let host_valid = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                Some(ipv6) => ipv6.parse::<std::net::Ipv6Addr>().is_ok(),
                None => !host.is_empty() && !host.contains(['/', ' ', '[', ']', ':', '@']),
            };
            host_valid && port.parse::<u16>().is_ok()
        });
        if !valid {
            bail!(
                "metrics.address must be host:port (e.g. 127.0.0.1:9464), off or none, not {address:?}"
            );
        }
        Ok(MetricsExposure::Separate(address.to_owned()))
    }
}

/// Reads one of `choices` by name, whatever its case and the blanks around
/// it, as `AUTH__ENV` is read.
fn one_of<'de, D: Deserializer<'de>, T: Copy>(
    deserializer: D,
    choices: &[(&str, T)],
) -> Result<T, D::Error> {
    let value = String::deserialize(deserializer)?;
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value.trim()))
        .map(|&(_, choice)| choice)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|&(name, _)| name).collect();
            serde::de::Error::custom(format!(
                "unknown value {value:?}, expected one of: {}",
                names.join(", ")
            ))
        })
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        one_of(
            deserializer,
            &[("pretty", Self::Pretty), ("json", Self::Json)],
        )
    }
}

/// `AUTH__LOG__*`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LogSettings {
    /// `pretty` or `json`; by default pretty in development, JSON in production.
    pub format: Option<LogFormat>,
}

/// `AUTH__PASSWORD__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PasswordSettings {
    /// Fewest characters in a new password.
    pub min_length: usize,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self { min_length: 8 }
    }
}

/// `AUTH__HASHING__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HashingSettings {
    /// Hashes computed at once; by default one per CPU.
    pub max_concurrent: usize,
    /// Hashes waiting beyond those; past it, 503.
    pub max_queue: usize,
    /// How the hashing threads are scheduled against the async workers:
    /// `low` (the default: niceness 19) or `normal`.
    #[serde(deserialize_with = "thread_priority")]
    pub priority: ThreadPriority,
}

fn thread_priority<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ThreadPriority, D::Error> {
    one_of(
        deserializer,
        &[
            ("low", ThreadPriority::Low),
            ("normal", ThreadPriority::Normal),
        ],
    )
}

impl Default for HashingSettings {
    fn default() -> Self {
        Self {
            max_concurrent: std::thread::available_parallelism().map_or(1, usize::from),
            max_queue: 1024,
            priority: ThreadPriority::default(),
        }
    }
}

/// `AUTH__SESSION_CACHE__*`: validated sessions kept in memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SessionCacheSettings {
    /// How long a cached session is trusted at most; `0` turns the cache
    /// off. Revocations made through this instance, and on PostgreSQL
    /// through any instance, take effect at once regardless.
    pub max_age_ms: u64,
    /// Sessions kept at most.
    pub capacity: u64,
}

impl Default for SessionCacheSettings {
    fn default() -> Self {
        Self {
            max_age_ms: 1000,
            capacity: 100_000,
        }
    }
}

impl SessionCacheSettings {
    /// `max_age_ms` as a duration.
    #[must_use]
    pub fn max_age(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.max_age_ms)
    }
}

/// `AUTH__AUDIT__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Days audit events are kept before the periodic purge deletes them;
    /// `0` keeps them forever.
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

impl AuditSettings {
    /// How long events are kept; `None` for ever.
    #[must_use]
    pub fn retention(&self) -> Option<chrono::TimeDelta> {
        (self.retention_days > 0).then(|| chrono::TimeDelta::days(self.retention_days.into()))
    }
}

impl Settings {
    /// Loads the layered configuration from the process environment.
    ///
    /// # Errors
    /// When a file cannot be read, a value has the wrong type, or the result
    /// fails [`Settings::validate`].
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        // Variables that are not UTF-8 cannot be settings; skip them rather
        // than panic as `std::env::vars` would.
        let vars = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::load_from(config_file, vars)
    }

    /// [`Settings::load`] with `vars` standing for the process environment.
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_from(
        config_file: Option<&Path>,
        vars: HashMap<String, String>,
    ) -> anyhow::Result<Self> {
        let env = Environment::from_name(vars.get("AUTH__ENV").map_or("", String::as_str));
        let env_name = env.name();
        if !env_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!("AUTH__ENV must be a name of letters, digits, '-' and '_', not {env_name:?}");
        }
        let mut builder = config::Config::builder()
            .add_source(config::File::with_name("config/default").required(false))
            .add_source(config::File::with_name(&format!("config/{env_name}")).required(false));
        if let Some(file) = config_file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        if vars.get("AUTH__DATABASE__URL").is_none_or(String::is_empty)
            && let Some(url) = vars.get("DATABASE_URL").filter(|url| !url.is_empty())
        {
            builder = builder.set_override("database.url", url.as_str())?;
        }
        builder = builder.add_source(
            config::Environment::with_prefix("AUTH")
                .source(Some(vars.into_iter().collect()))
                .prefix_separator("__")
                .separator("__")
                .ignore_empty(true)
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("jwt.retired_key_files")
                .with_list_parse_key("server.trusted_proxies")
                .with_list_parse_key("server.cors_origins"),
        );
        let settings: Self = builder
            .build()
            .context("could not read the configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that types alone cannot.
    ///
    /// # Errors
    /// The first problem found, worded for an operator.
    pub fn validate(&self) -> anyhow::Result<()> {
        let min = self.password.min_length;
        if !(1..=auth_domain::user::MAX_PASSWORD_LENGTH).contains(&min) {
            bail!("password.min_length must be between 1 and 128, not {min}");
        }
        match self.jwt.algorithm {
            SigningAlgorithm::HS256 => {
                // Only production holds the secret to the strict checks;
                // elsewhere a short one is used, with a warning at start.
                if let Some(secret) = self
                    .jwt
                    .secret
                    .as_ref()
                    .filter(|_| self.env.is_production())
                {
                    let secret = secret.expose_secret().as_bytes();
                    if secret.len() < auth_infra::jwt::MIN_HS256_SECRET_BYTES {
                        bail!(
                            "jwt.secret must be at least {} bytes in production",
                            auth_infra::jwt::MIN_HS256_SECRET_BYTES
                        );
                    }
                    if distinct_bytes(secret) < MIN_DISTINCT_SECRET_BYTES {
                        bail!(
                            "jwt.secret is too weak for production: it needs at least \
                             {MIN_DISTINCT_SECRET_BYTES} different bytes (try `openssl rand -base64 48`)"
                        );
                    }
                }
            }
            SigningAlgorithm::EdDSA | SigningAlgorithm::RS256 => {
                if self.jwt.private_key_file.is_none() {
                    bail!(
                        "jwt.algorithm {} needs AUTH__JWT__PRIVATE_KEY_FILE (see `authd keys generate`)",
                        self.jwt.algorithm
                    );
                }
            }
        }
        if self.jwt.access_ttl_secs == 0 || self.jwt.refresh_ttl_secs == 0 {
            bail!("token lifetimes must be positive");
        }
        if self.hashing.max_concurrent == 0 {
            bail!("hashing.max_concurrent must be at least 1");
        }
        // Only the per-IP limit has an off switch (0); a zero elsewhere would
        // lock every account out (the failure limits, the window's end at
        // once would turn them off) or never send a mail.
        let limits = &self.rate_limit;
        for (name, value) in [
            ("rate_limit.login_max_failures", limits.login_max_failures),
            ("rate_limit.login_window_secs", limits.login_window_secs),
            (
                "rate_limit.account_max_failures",
                limits.account_max_failures,
            ),
            ("rate_limit.mail_per_hour", limits.mail_per_hour),
        ] {
            if value == 0 {
                bail!(
                    "{name} must be at least 1 (only rate_limit.ip_per_minute takes 0, to turn it off)"
                );
            }
        }
        crate::extractors::TrustedProxies::parse(&self.server.trusted_proxies).map_err(
            |entry| {
                anyhow::anyhow!("server.trusted_proxies: {entry:?} is not an address or CIDR block")
            },
        )?;
        check_url(
            "database.url",
            &self.database.url,
            &["sqlite", "postgres", "postgresql"],
        )?;
        auth_infra::sea_orm::check_url(&self.database.url)
            .map_err(|reason| anyhow::anyhow!("database.url: {reason}"))?;
        if let Some(url) = &self.mail.smtp_url {
            check_url("mail.smtp_url", url.expose_secret(), &["smtp", "smtps"])?;
            auth_infra::mail::SmtpMailer::check_url(url.expose_secret())
                .map_err(|reason| anyhow::anyhow!("mail.smtp_url: {reason}"))?;
        }
        check_link_template("mail.verify_url", &self.mail.verify_url)?;
        check_link_template("mail.reset_url", &self.mail.reset_url)?;
        if let Some(dsn) = &self.sentry.dsn
            && dsn.expose_secret().parse::<sentry::types::Dsn>().is_err()
        {
            bail!("sentry.dsn is not a Sentry DSN (https://KEY@HOST/PROJECT_ID)");
        }
        crate::cors::CorsPolicy::parse(&self.server.cors_origins)
            .map_err(|reason| anyhow::anyhow!("server.cors_origins: {reason}"))?;
        self.metrics.exposure()?;
        if let Some(key) = &self.mfa.encryption_key {
            auth_infra::cipher::check_key(key).map_err(|_| {
                anyhow::anyhow!("mfa.encryption_key must be 32 bytes in standard base64")
            })?;
        }
        let issuer = self.mfa.issuer.trim();
        if issuer.is_empty() || issuer.contains(':') || issuer.chars().any(char::is_control) {
            bail!("mfa.issuer must be a non-empty name without ':' or control characters");
        }
        Ok(())
    }

    /// Checks what only serving needs: in production, HS256 refuses to start
    /// without a secret (a random per-process secret would break every token
    /// at the next restart and across instances).
    ///
    /// # Errors
    /// When production has no secret.
    pub fn validate_for_serving(&self) -> anyhow::Result<()> {
        if self.env.is_production()
            && self.jwt.algorithm == SigningAlgorithm::HS256
            && self.jwt.secret.is_none()
        {
            bail!("AUTH__JWT__SECRET is required in production (at least 32 bytes)");
        }
        Ok(())
    }

    /// The log format in effect.
    #[must_use]
    pub fn log_format(&self) -> LogFormat {
        self.log.format.unwrap_or(match self.env {
            Environment::Production => LogFormat::Json,
            _ => LogFormat::Pretty,
        })
    }
}

/// Checks that `url` parses as a URL with one of `schemes`. The value is
/// not repeated in the error: it may hold credentials.
fn check_url(key: &str, url: &str, schemes: &[&str]) -> anyhow::Result<()> {
    let Ok(parsed) = url::Url::parse(url) else {
        bail!("{key} is not a URL");
    };
    if !schemes.contains(&parsed.scheme()) {
        bail!(
            "{key} must be a {} URL, not {}://…",
            schemes.join("://, ") + "://",
            parsed.scheme()
        );
    }
    Ok(())
}

/// Checks a mail link template: `{token}` in it, and an http(s) URL once
/// it is filled in.
fn check_link_template(key: &str, template: &str) -> anyhow::Result<()> {
    if !template.contains("{token}") {
        bail!("{key} must contain {{token}}, where the link's token goes: {template:?}");
    }
    let filled = template.replace("{token}", "TOKEN");
    match url::Url::parse(&filled) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => bail!("{key} must be an http:// or https:// URL: {template:?}"),
    }
}

/// How many different byte values `bytes` holds.
fn distinct_bytes(bytes: &[u8]) -> usize {
    let mut seen = [false; 256];
    for &byte in bytes {
        seen[usize::from(byte)] = true;
    }
    seen.iter().filter(|&&seen| seen).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> Settings {
        Settings {
            env: Environment::Production,
            ..Settings::default()
        }
    }

    #[test]
    fn defaults_follow_the_contract() {
        let settings = Settings::default();
        assert_eq!(settings.env, Environment::Development);
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.server.body_limit_bytes, 65_536);
        assert_eq!(settings.database.url, "sqlite://data/auth.db?mode=rwc");
        assert_eq!(settings.jwt.algorithm, SigningAlgorithm::HS256);
        assert_eq!(settings.jwt.issuer, "auth-module");
        assert_eq!(settings.jwt.audience, "auth-module");
        assert_eq!(settings.jwt.access_ttl_secs, 900);
        assert_eq!(settings.jwt.refresh_ttl_secs, 2_592_000);
        assert_eq!(settings.jwt.refresh_reuse_grace_secs, 10);
        assert_eq!(settings.rate_limit.login_max_failures, 10);
        assert_eq!(settings.rate_limit.login_window_secs, 900);
        assert_eq!(settings.rate_limit.account_max_failures, 100);
        assert_eq!(settings.rate_limit.ip_per_minute, 120);
        assert_eq!(settings.rate_limit.mail_per_hour, 5);
        assert_eq!(settings.mail.from, "no-reply@localhost");
        assert_eq!(settings.password.min_length, 8);
        assert_eq!(settings.hashing.max_queue, 1024);
        assert!(settings.hashing.max_concurrent >= 1);
        assert_eq!(settings.hashing.priority, ThreadPriority::Low);
        assert_eq!(settings.audit.retention_days, 90);
        assert_eq!(
            settings.audit.retention(),
            Some(chrono::TimeDelta::days(90))
        );
        assert_eq!(settings.log_format(), LogFormat::Pretty);
        assert_eq!(production().log_format(), LogFormat::Json);
        settings.validate().expect("development defaults are valid");
    }

    #[test]
    fn production_needs_a_strong_secret() {
        let missing = production();
        assert!(missing.validate().is_ok(), "migrations need no secret");
        assert!(missing.validate_for_serving().is_err());
        assert!(Settings::default().validate_for_serving().is_ok());
        let mut weak = production();
        weak.jwt.secret = Some("too-short".into());
        assert!(weak.validate().is_err());
        let mut strong = production();
        strong.jwt.secret = Some("0123456789abcdef".repeat(2).into());
        strong
            .validate()
            .expect("32 bytes, 16 of them different, are enough");
        strong.validate_for_serving().expect("and serve");
    }

    #[test]
    fn production_refuses_a_secret_of_few_different_bytes() {
        for weak in [
            "a".repeat(40),
            "ab".repeat(32),
            "0123456789abcde".repeat(4),
            "0123456789abcdef".repeat(2)[..31].to_owned(),
        ] {
            let mut settings = production();
            settings.jwt.secret = Some(weak.clone().into());
            let error = settings.validate().expect_err(&weak);
            assert!(error.to_string().contains("jwt.secret"), "{error}");
            // Outside production neither counts.
            settings.env = Environment::Other("staging".into());
            settings.validate().expect(&weak);
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn named_choices_are_read_whatever_their_case() {
        for (name, format) in [
            ("json", LogFormat::Json),
            ("JSON", LogFormat::Json),
            (" Pretty ", LogFormat::Pretty),
        ] {
            let settings =
                Settings::load_from(None, vars(&[("AUTH__LOG__FORMAT", name)])).expect("loads");
            assert_eq!(settings.log.format, Some(format), "{name:?}");
        }
        for (name, priority) in [
            ("low", ThreadPriority::Low),
            ("LOW", ThreadPriority::Low),
            ("Normal", ThreadPriority::Normal),
        ] {
            let settings = Settings::load_from(None, vars(&[("AUTH__HASHING__PRIORITY", name)]))
                .expect("loads");
            assert_eq!(settings.hashing.priority, priority, "{name:?}");
        }
        for (key, value) in [
            ("AUTH__LOG__FORMAT", "yaml"),
            ("AUTH__HASHING__PRIORITY", "realtime"),
            ("AUTH__HASHING__PRIORITY", "idle"),
        ] {
            let error = Settings::load_from(None, vars(&[(key, value)]))
                .expect_err(&format!("{key}={value:?} is refused"));
            assert!(
                format!("{error:#}").contains("expected one of"),
                "{key}: {error:#}"
            );
        }
    }

    #[test]
    fn any_environment_name_is_an_environment() {
        for (name, env) in [
            ("production", Environment::Production),
            ("PRODUCTION", Environment::Production),
            (" Production ", Environment::Production),
            ("development", Environment::Development),
            ("", Environment::Development),
            ("staging", Environment::Other("staging".into())),
            ("Staging", Environment::Other("staging".into())),
        ] {
            let settings = Settings::load_from(None, vars(&[("AUTH__ENV", name)])).expect("loads");
            assert_eq!(settings.env, env, "{name:?}");
        }
        let staging = Settings::load_from(None, vars(&[("AUTH__ENV", "staging")])).expect("loads");
        assert_eq!(staging.env.name(), "staging");
        assert!(!staging.env.is_production());
        assert_eq!(staging.log_format(), LogFormat::Pretty);
        let loud = Settings::load_from(None, vars(&[("AUTH__ENV", "PRODUCTION")])).expect("loads");
        assert!(
            loud.env.is_production(),
            "the strict checks apply whatever the case"
        );
        assert_eq!(loud.log_format(), LogFormat::Json);
        assert!(Settings::load_from(None, vars(&[("AUTH__ENV", "../etc")])).is_err());
    }

    #[test]
    fn empty_values_mean_unset() {
        let settings = Settings::load_from(
            None,
            vars(&[
                ("AUTH__SENTRY__DSN", ""),
                ("AUTH__MAIL__SMTP_URL", ""),
                ("AUTH__JWT__SECRET", ""),
                ("AUTH__SERVER__TRUSTED_PROXIES", ""),
                ("AUTH__ENV", ""),
                ("DATABASE_URL", ""),
            ]),
        )
        .expect("loads");
        assert!(settings.sentry.dsn.is_none());
        assert!(settings.mail.smtp_url.is_none());
        assert!(settings.jwt.secret.is_none());
        assert!(settings.server.trusted_proxies.is_empty());
        assert_eq!(settings.env, Environment::Development);
        assert_eq!(settings.database.url, DatabaseSettings::default().url);
        let fallback = Settings::load_from(
            None,
            vars(&[
                ("AUTH__DATABASE__URL", ""),
                ("DATABASE_URL", "postgres://db/auth"),
            ]),
        )
        .expect("loads");
        assert_eq!(fallback.database.url, "postgres://db/auth");
    }

    #[test]
    fn unparseable_urls_and_dsns_are_configuration_errors() {
        for (key, value, named) in [
            ("AUTH__SENTRY__DSN", "not a dsn", "sentry.dsn"),
            (
                "AUTH__SENTRY__DSN",
                "https://o1.ingest.sentry.io",
                "sentry.dsn",
            ),
            ("AUTH__DATABASE__URL", "not a url", "database.url"),
            ("AUTH__DATABASE__URL", "mysql://db/auth", "database.url"),
            // URLs that parse but that the driver or mailer would refuse.
            (
                "AUTH__DATABASE__URL",
                "postgres://db/auth?sslmode=bogus",
                "database.url",
            ),
            (
                "AUTH__DATABASE__URL",
                "sqlite:///tmp/x.db?mode=bogus",
                "database.url",
            ),
            ("AUTH__MAIL__SMTP_URL", "smtp://", "mail.smtp_url"),
            (
                "AUTH__MAIL__SMTP_URL",
                "smtp://mail.example.com:25?tls=bogus",
                "mail.smtp_url",
            ),
            (
                "AUTH__MAIL__SMTP_URL",
                "mail.example.com:25",
                "mail.smtp_url",
            ),
            (
                "AUTH__MAIL__SMTP_URL",
                "http://mail.example.com",
                "mail.smtp_url",
            ),
            (
                "AUTH__MAIL__VERIFY_URL",
                "https://app.test/verify",
                "mail.verify_url",
            ),
            (
                "AUTH__MAIL__RESET_URL",
                "app.test/reset?token={token}",
                "mail.reset_url",
            ),
            (
                "AUTH__MAIL__RESET_URL",
                "javascript:alert({token})",
                "mail.reset_url",
            ),
        ] {
            let error = Settings::load_from(None, vars(&[(key, value)]))
                .expect_err(&format!("{key}={value}"));
            let message = format!("{error:#}");
            assert!(message.contains(named), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        for (key, value) in [
            ("AUTH__SENTRY__DSN", "https://key@o1.ingest.sentry.io/42"),
            ("AUTH__DATABASE__URL", "postgres://auth:pw@db:5432/auth"),
            ("AUTH__DATABASE__URL", "sqlite::memory:"),
            (
                "AUTH__MAIL__SMTP_URL",
                "smtps://user:pass@mail.example.com:465",
            ),
            (
                "AUTH__MAIL__SMTP_URL",
                "smtp://mail.example.com:587?tls=required",
            ),
            (
                "AUTH__MAIL__RESET_URL",
                "https://app.test/reset#token={token}",
            ),
        ] {
            Settings::load_from(None, vars(&[(key, value)])).expect(value);
        }
        let error = Settings::load_from(
            None,
            vars(&[("AUTH__DATABASE__URL", "mysql://auth:db-password@db/auth")]),
        )
        .expect_err("mysql");
        assert!(!format!("{error:#}").contains("db-password"));
    }

    #[test]
    fn the_metrics_address_moves_or_turns_off_metrics() {
        let exposure = |pairs: &[(&str, &str)]| {
            Settings::load_from(None, vars(pairs)).map(|s| s.metrics.exposure().expect("valid"))
        };
        assert_eq!(exposure(&[]).expect("loads"), MetricsExposure::Main);
        assert_eq!(
            exposure(&[("AUTH__METRICS__ADDRESS", "")]).expect("empty is unset"),
            MetricsExposure::Main
        );
        for off in ["off", "OFF", "none", "None"] {
            assert_eq!(
                exposure(&[("AUTH__METRICS__ADDRESS", off)]).expect(off),
                MetricsExposure::Off
            );
        }
        for address in [
            "127.0.0.1:9464",
            "0.0.0.0:9464",
            "[::1]:9464",
            "metrics.internal:9464",
        ] {
            assert_eq!(
                exposure(&[("AUTH__METRICS__ADDRESS", address)]).expect(address),
                MetricsExposure::Separate(address.to_owned())
            );
        }
        for bad in [
            "9464",
            "127.0.0.1",
            "127.0.0.1:99999",
            ":9464",
            "http://host:9464",
            "::1:9464",
            "on",
        ] {
            let error =
                Settings::load_from(None, vars(&[("AUTH__METRICS__ADDRESS", bad)])).expect_err(bad);
            let message = format!("{error:#}");
            assert!(message.contains("metrics.address"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        let mut settings = Settings::default();
        settings.metrics.address = Some(" ".into());
        assert_eq!(
            settings.metrics.exposure().expect("blank"),
            MetricsExposure::Main
        );
    }

    #[test]
    fn an_empty_sentry_release_means_unset() {
        let settings =
            Settings::load_from(None, vars(&[("AUTH__SENTRY__RELEASE", "")])).expect("loads");
        assert!(settings.sentry.release.is_none());
        let settings =
            Settings::load_from(None, vars(&[("AUTH__SENTRY__RELEASE", "v1.2.3")])).expect("loads");
        assert_eq!(settings.sentry.release.as_deref(), Some("v1.2.3"));
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let mut settings = Settings::default();
        settings.jwt.secret = Some("jwt-secret-0123456789-abcdefghijklmnop".into());
        settings.mail.smtp_url = Some("smtps://mailer:smtp-password@mail.example.com:465".into());
        settings.sentry.dsn = Some("https://sentry-key@o1.ingest.sentry.io/42".into());
        settings.database.url = "postgres://auth:db-password@db.internal:5432/auth".into();
        settings.validate().expect("valid");
        let debug = format!("{settings:?}");
        for secret in ["jwt-secret", "smtp-password", "sentry-key", "db-password"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(
            debug.contains("postgres://auth:REDACTED@db.internal:5432/auth"),
            "{debug}"
        );
        let pretty = format!("{settings:#?}");
        assert!(!pretty.contains("jwt-secret") && !pretty.contains("db-password"));
        // A password given as a query parameter is masked too.
        settings.database.url =
            "postgres://auth@db.internal/auth?sslmode=require&Password=db-password".into();
        settings.validate().expect("valid");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("db-password"), "{debug}");
        assert!(debug.contains("Password=REDACTED"), "{debug}");
        assert!(debug.contains("sslmode=require"), "{debug}");
    }

    #[test]
    fn asymmetric_algorithms_need_a_key_file() {
        let mut settings = Settings::default();
        settings.jwt.algorithm = SigningAlgorithm::EdDSA;
        assert!(settings.validate().is_err());
        settings.jwt.private_key_file = Some("key.pem".into());
        settings.validate().expect("valid");
    }

    #[test]
    fn an_unknown_algorithm_is_a_configuration_error() {
        let env = std::collections::HashMap::from([(
            "AUTH__JWT__ALGORITHM".to_owned(),
            "ES256".to_owned(),
        )]);
        assert!(Settings::load_from(None, env).is_err());
        let env = std::collections::HashMap::from([(
            "AUTH__JWT__ALGORITHM".to_owned(),
            "EdDSA".to_owned(),
        )]);
        let error = Settings::load_from(None, env).expect_err("needs a key file");
        assert!(
            format!("{error:#}").contains("PRIVATE_KEY_FILE"),
            "{error:#}"
        );
    }

    #[test]
    fn only_production_refuses_a_short_secret() {
        for env in ["development", "staging", "test"] {
            let mut settings = Settings {
                env: Environment::from_name(env),
                ..Settings::default()
            };
            settings.jwt.secret = Some("short".into());
            settings.validate().expect("accepted outside production");
            let keys = crate::startup::signing_keys(&settings).expect("usable");
            assert_eq!(keys.algorithm(), auth_infra::jwt::SigningAlgorithm::HS256);
        }
        let mut settings = production();
        settings.jwt.secret = Some("short".into());
        let error = settings.validate().expect_err("refused in production");
        assert!(format!("{error:#}").contains("32 bytes"), "{error:#}");
    }

    #[test]
    fn refuses_out_of_range_values() {
        let mut settings = Settings::default();
        settings.password.min_length = 129;
        assert!(settings.validate().is_err());
        let mut settings = Settings::default();
        settings.password.min_length = 0;
        assert!(settings.validate().is_err());
        let mut settings = Settings::default();
        settings.server.trusted_proxies = vec!["not-an-ip".into()];
        assert!(settings.validate().is_err());
        let mut settings = Settings::default();
        settings.hashing.max_concurrent = 0;
        assert!(settings.validate().is_err());
        for key in [
            "AUTH__RATE_LIMIT__LOGIN_MAX_FAILURES",
            "AUTH__RATE_LIMIT__LOGIN_WINDOW_SECS",
            "AUTH__RATE_LIMIT__ACCOUNT_MAX_FAILURES",
            "AUTH__RATE_LIMIT__MAIL_PER_HOUR",
        ] {
            let error = Settings::load_from(None, vars(&[(key, "0")]))
                .expect_err(&format!("{key}=0 is refused"));
            assert!(format!("{error:#}").contains("at least 1"), "{error:#}");
            Settings::load_from(None, vars(&[(key, "1")])).expect("1 is a limit");
        }
        let off = Settings::load_from(None, vars(&[("AUTH__RATE_LIMIT__IP_PER_MINUTE", "0")]))
            .expect("the per-IP limit turns off");
        assert_eq!(off.rate_limit.ip_per_minute, 0);
        let mut settings = Settings::default();
        settings.server.cors_origins = vec!["https://app.example.com/".into()];
        assert!(settings.validate().is_err());
        settings.server.cors_origins = vec!["*".into()];
        assert!(settings.validate().is_err());
        settings.server.cors_origins = vec!["https://app.example.com".into()];
        settings.validate().expect("an origin");
    }

    #[test]
    fn reads_a_toml_file() {
        let dir = std::env::temp_dir().join(format!("authd-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("custom.toml");
        std::fs::write(
            &file,
            "[server]\nport = 9999\ntrusted_proxies = [\"10.0.0.0/8\"]\ncors_origins = [\"https://app.example.com\"]\n[password]\nmin_length = 12\n[sentry]\ndsn = \"\"\n",
        )
        .expect("write");
        let settings = Settings::load(Some(&file)).expect("load");
        assert_eq!(settings.server.port, 9999);
        assert_eq!(
            settings.server.trusted_proxies,
            vec!["10.0.0.0/8".to_owned()]
        );
        assert_eq!(
            settings.server.cors_origins,
            vec!["https://app.example.com".to_owned()]
        );
        assert_eq!(settings.password.min_length, 12);
        assert!(settings.sentry.dsn.is_none(), "an empty string is unset");
        assert_eq!(settings.server.host, "127.0.0.1", "defaults fill the rest");
        std::fs::remove_dir_all(&dir).ok();
    }
}
