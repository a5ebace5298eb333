//! Building and running the application: the composition root.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, Condition, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use auth_domain::audit::{AuditLog, AuditService, Auditor};
use auth_domain::auth::{
    AuthPorts, AuthService, AuthSettings, LoginLimits, PasswordGuard, SessionIssuer, TokenVerifier,
};
use auth_domain::common::{
    Clock, HashingLoad, IdGenerator, RateLimiter, Readiness, SecretGenerator as _,
};
use auth_domain::mail::Mailer;
use auth_domain::mfa::{
    ChallengeIssuer, MfaChallengeRepository, MfaChallengeService, MfaPorts, MfaService,
    SecondFactorRepository, SecretCipher,
};
use auth_domain::project::ProjectService;
use auth_domain::recovery::{MailLinks, MailSettings, RecoveryPorts, RecoveryService};
use auth_domain::session::{SessionRepository, SessionService};
use auth_domain::user::{
    AccountPorts, AccountService, AdminService, Password, PasswordHasher, PasswordPolicy,
    UserRepository,
};
use auth_infra::argon2::Argon2PasswordHasher;
use auth_infra::blocking::BlockingPool;
use auth_infra::cipher::AesGcmSecretCipher;
use auth_infra::jwt::{JwtIdentity, JwtKeys, JwtTokenIssuer, JwtTokenVerifier, SigningAlgorithm};
use auth_infra::mail::{LogMailer, SmtpMailer};
use auth_infra::outbox::{OutboxHandle, OutboxWorker, RetryPolicy};
use auth_infra::sea_orm::{
    DatabaseConnection, SeaOrmActionTokenRepository, SeaOrmAuditLog, SeaOrmMailOutbox,
    SeaOrmMfaChallengeRepository, SeaOrmProjectRepository, SeaOrmRateLimiter, SeaOrmReadiness,
    SeaOrmSecondFactorRepository, SeaOrmSessionRepository, SeaOrmUserRepository, connect,
    connect_counters, ensure_sqlite_parent_dir,
};
use auth_infra::session_cache::{
    CachedSecondFactors, CachedSessions, CachedUsers, CachedVerifier, SessionCache, listen,
};
use auth_infra::system::{RandomSecretGenerator, SystemClock, UuidV7Generator};
use auth_infra::totp::TotpRsCodes;
use chrono::TimeDelta;
use secrecy::{ExposeSecret, SecretString};

use crate::cors::CorsPolicy;
use crate::extractors::TrustedProxies;
use crate::metrics::{CountedAuditLog, Metrics};
use crate::settings::{Environment, MetricsExposure, Settings};
use crate::state::AppState;
use crate::{middleware, routes};

/// A built, bound, not yet running server.
#[allow(missing_debug_implementations)]
pub struct Application {
    port: u16,
    server: Server,
    /// The listener of `/metrics` when it has one of its own.
    metrics: Option<(u16, Server)>,
    outbox: OutboxHandle,
}

/// With `serve --no-migrate`: `None` when the schema has every migration
/// this build needs, else a warning and the check that keeps
/// `/health/ready` at 503 until `authd migrate up` has applied them.
async fn unapplied_migrations(
    db: &DatabaseConnection,
) -> anyhow::Result<Option<Arc<crate::routes::health::SchemaCheck>>> {
    let pending = auth_migrations::pending(db)
        .await
        .context("could not read which migrations the database has")?;
    if pending.is_empty() {
        return Ok(None);
    }
    tracing::warn!(
        pending = pending.len(),
        first = %pending[0],
        "the database lacks migrations this build needs; /health/ready answers 503 until \
         `authd migrate up` applies them"
    );
    Ok(Some(Arc::new(crate::routes::health::SchemaCheck::new(
        db.clone(),
    ))))
}

/// Opens the database, creating an SQLite file's folder when needed.
///
/// # Errors
/// When the folder cannot be created or the database cannot be reached.
pub async fn open_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    ensure_sqlite_parent_dir(&settings.database.url)
        .context("could not create the SQLite database folder")?;
    connect(&settings.database.url, settings.database.max_connections)
        .await
        .context("could not connect to the database")
}

/// How often expired and revoked sessions are deleted.
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes expired and revoked sessions, stale rate-limit windows and audit
/// events past retention now and every hour, so the tables do not grow
/// without bound. Harmless when
/// several instances do it. A plain Tokio task (not `actix_web::rt::spawn`,
/// which needs a `LocalSet`), so the application can also be built inside
/// any Tokio runtime, as the black-box tests do.
fn spawn_purge(
    sessions: Arc<SessionService>,
    recovery: Arc<RecoveryService>,
    mfa_login: Arc<MfaChallengeService>,
    audit: Arc<AuditService>,
    rate_limiter: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PURGE_INTERVAL);
        loop {
            interval.tick().await;
            match sessions.purge().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired and revoked sessions purged"),
                Err(error) => tracing::warn!(error = %error, "session purge failed"),
            }
            if let Err(error) = recovery.purge().await {
                tracing::warn!(error = %error, "mailed-token purge failed");
            }
            if let Err(error) = mfa_login.purge(clock.now()).await {
                tracing::warn!(error = %error, "log-in challenge purge failed");
            }
            // No window is longer than a day.
            let before = clock.now() - TimeDelta::days(1);
            if let Err(error) = rate_limiter.purge(before).await {
                tracing::warn!(error = %error, "rate-limit purge failed");
            }
            match audit.purge().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "audit events past retention purged"),
                Err(error) => tracing::warn!(error = %error, "audit purge failed"),
            }
        }
    });
}

/// The transport the outbox worker sends through: SMTP when
/// `mail.smtp_url` is set, else the log, with the links' tokens redacted
/// outside development.
///
/// # Errors
/// When the SMTP URL or sender address is malformed.
pub fn mailer(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(
        match settings
            .mail
            .smtp_url
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .filter(|u| !u.is_empty())
        {
            Some(url) => Arc::new(SmtpMailer::new(url, &settings.mail.from)?),
            None => Arc::new(LogMailer::new(settings.env != Environment::Development)),
        },
    )
}

/// The signing and verification keys the settings name.
///
/// # Errors
/// When a key file cannot be read or is not a key of the algorithm.
pub fn signing_keys(settings: &Settings) -> anyhow::Result<JwtKeys> {
    let read = |path: &str| {
        std::fs::read(path).with_context(|| format!("could not read the key file {path}"))
    };
    match settings.jwt.algorithm {
        SigningAlgorithm::HS256 => {
            let secret = match &settings.jwt.secret {
                Some(secret) => secret.clone(),
                None => {
                    tracing::warn!(
                        "AUTH__JWT__SECRET is unset: using a random secret for this process; \
                         tokens will not survive a restart or work across instances"
                    );
                    SecretString::from(RandomSecretGenerator.generate())
                }
            };
            let secret = secret.expose_secret().as_bytes();
            if secret.len() < auth_infra::jwt::MIN_HS256_SECRET_BYTES {
                // `validate` refuses this in production.
                tracing::warn!(
                    "AUTH__JWT__SECRET is shorter than {} bytes: tokens are only as hard to \
                     forge as the secret is to guess; production refuses it",
                    auth_infra::jwt::MIN_HS256_SECRET_BYTES
                );
            }
            JwtKeys::hs256_of_any_length(secret)
        }
        algorithm => {
            let current = read(
                settings
                    .jwt
                    .private_key_file
                    .as_deref()
                    .context("AUTH__JWT__PRIVATE_KEY_FILE is required")?,
            )?;
            let retired = settings
                .jwt
                .retired_key_files
                .iter()
                .map(|path| path.trim())
                .filter(|path| !path.is_empty())
                .map(read)
                .collect::<anyhow::Result<Vec<_>>>()?;
            JwtKeys::asymmetric(algorithm, &current, &retired)
        }
    }
}

/// A refusal to start that the configuration must fix, found only once the
/// database is open: `authd` reports it as it reports a bad setting, on one
/// line with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigurationError(pub &'static str);

/// The cipher sealing TOTP secrets: from `mfa.encryption_key`, or a key
/// made for this process (development, or production while no user has
/// MFA on yet), with a warning.
///
/// # Errors
/// When the key is malformed, or production has users with MFA on and no
/// key to open their secrets.
async fn secret_cipher(
    settings: &Settings,
    factors: &dyn SecondFactorRepository,
) -> anyhow::Result<Arc<dyn SecretCipher>> {
    if let Some(key) = &settings.mfa.encryption_key {
        return Ok(Arc::new(
            AesGcmSecretCipher::from_base64(key.expose_secret())
                .context("mfa.encryption_key must be 32 bytes in standard base64")?,
        ));
    }
    if settings.env.is_production()
        && factors
            .any_enabled()
            .await
            .context("could not check whether any user has MFA on")?
    {
        return Err(ConfigurationError(
            "AUTH__MFA__ENCRYPTION_KEY is required in production: users have MFA on \
             and their secrets cannot be opened without it",
        )
        .into());
    }
    tracing::warn!(
        "AUTH__MFA__ENCRYPTION_KEY is unset: using a random key for this process; \
         TOTP enrolments will not survive a restart or work across instances"
    );
    let key = AesGcmSecretCipher::generate_key();
    Ok(Arc::new(AesGcmSecretCipher::from_base64(
        key.expose_secret(),
    )?))
}

/// The use-cases, wired to their adapters.
#[allow(missing_debug_implementations)]
pub struct Services {
    /// Sign-up, log-in, authentication.
    pub auth: Arc<AuthService>,
    /// Refresh, log-out, revocation.
    pub sessions: Arc<SessionService>,
    /// The caller's own account.
    pub account: Arc<AccountService>,
    /// E-mail verification and password reset.
    pub recovery: Arc<RecoveryService>,
    /// Projects.
    pub projects: Arc<ProjectService>,
    /// User management.
    pub admin: Arc<AdminService>,
    /// The caller's second factor, and an administrator's reset of it.
    pub mfa: Arc<MfaService>,
    /// Log-in challenges of users with a second factor.
    pub mfa_login: Arc<MfaChallengeService>,
    /// The audit trail, read and purged.
    pub audit: Arc<AuditService>,
    /// The JWKS document.
    pub jwks: serde_json::Value,
    /// Shared request counters.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// The password hashing pool.
    pub hashing: Arc<dyn HashingLoad>,
    /// Whether the database answers.
    pub readiness: Arc<dyn Readiness>,
    /// Validated sessions in memory; [`listen`] keeps it in step with the
    /// other instances.
    pub session_cache: Arc<SessionCache>,
    /// Sends the mail the use-cases queue in the outbox; the server runs it
    /// ([`OutboxWorker::spawn`]), the command line only queues.
    pub mail: OutboxWorker,
}

impl Services {
    /// Wires every use-case to the adapters on `db` and `keys`; audit events
    /// that cannot be stored are counted in `metrics`.
    ///
    /// # Errors
    /// When the hashing pool cannot start or the counters' pool cannot
    /// connect.
    pub async fn wire(
        settings: &Settings,
        db: DatabaseConnection,
        keys: Arc<JwtKeys>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let jwt = JwtIdentity {
            issuer: settings.jwt.issuer.clone(),
            audience: settings.jwt.audience.clone(),
        };

        let pool = Arc::new(
            BlockingPool::with_priority(
                "argon2",
                settings.hashing.max_concurrent,
                settings.hashing.max_queue,
                settings.hashing.priority,
            )
            .context("could not start the hashing pool")?,
        );
        let hasher = Arc::new(Argon2PasswordHasher::new(pool.clone()));
        let dummy_password = Password::parse(
            SecretString::from(RandomSecretGenerator.generate()),
            &PasswordPolicy::default(),
            None,
        )?;
        let dummy_hash = hasher
            .hash(&dummy_password)
            .await
            .context("could not compute the dummy password hash")?;

        let jwks = serde_json::to_value(keys.jwks()).context("could not encode the JWKS")?;
        let counters = connect_counters(&settings.database.url, &db)
            .await
            .context("could not connect to the database")?;
        let rate_limiter: Arc<dyn RateLimiter> = Arc::new(SeaOrmRateLimiter::new(counters));
        let session_cache = SessionCache::new(
            settings.session_cache.max_age(),
            settings.session_cache.capacity,
            &db,
        );
        let users: Arc<dyn UserRepository> = Arc::new(CachedUsers::new(
            SeaOrmUserRepository::new(db.clone()),
            session_cache.clone(),
        ));
        let sessions: Arc<dyn SessionRepository> = Arc::new(CachedSessions::new(
            SeaOrmSessionRepository::new(db.clone()),
            session_cache.clone(),
        ));
        let action_tokens = Arc::new(SeaOrmActionTokenRepository::new(db.clone()));
        let outbox = SeaOrmMailOutbox::new(db.clone(), clock.clone());
        let mail = OutboxWorker::new(outbox.clone(), mailer(settings)?, RetryPolicy::default());
        let factors: Arc<dyn SecondFactorRepository> = Arc::new(CachedSecondFactors::new(
            SeaOrmSecondFactorRepository::new(db.clone()),
            session_cache.clone(),
        ));
        let challenges: Arc<dyn MfaChallengeRepository> =
            Arc::new(SeaOrmMfaChallengeRepository::new(db.clone()));
        let cipher = secret_cipher(settings, factors.as_ref()).await?;
        let ids: Arc<dyn IdGenerator> = Arc::new(UuidV7Generator);
        let audit_log: Arc<dyn AuditLog> = Arc::new(CountedAuditLog::new(
            Arc::new(SeaOrmAuditLog::new(db.clone())),
            metrics,
        ));
        let auditor = Auditor::new(audit_log.clone(), ids.clone(), clock.clone());
        let hasher: Arc<dyn PasswordHasher> = hasher;
        let issuer = SessionIssuer::new(
            sessions.clone(),
            Arc::new(JwtTokenIssuer::new(keys.clone(), jwt.clone())),
            clock.clone(),
            ids.clone(),
            Arc::new(RandomSecretGenerator),
            AuthSettings {
                access_ttl: TimeDelta::seconds(settings.jwt.access_ttl_secs.into()),
                refresh_ttl: TimeDelta::seconds(settings.jwt.refresh_ttl_secs.into()),
                refresh_reuse_grace: TimeDelta::seconds(
                    settings.jwt.refresh_reuse_grace_secs.into(),
                ),
            },
        );
        let mut verifier: Arc<dyn TokenVerifier> =
            Arc::new(JwtTokenVerifier::new(keys, &jwt, clock.clone()));
        // Tokens verified once are kept as long as sessions are (off with
        // the session cache).
        if !settings.session_cache.max_age().is_zero() {
            verifier = Arc::new(CachedVerifier::new(
                verifier,
                clock.clone(),
                settings.session_cache.max_age(),
                settings.session_cache.capacity,
            ));
        }
        let guard = PasswordGuard::new(
            hasher.clone(),
            rate_limiter.clone(),
            LoginLimits {
                max_pair_failures: settings.rate_limit.login_max_failures.into(),
                max_account_failures: settings.rate_limit.account_max_failures.into(),
                window: TimeDelta::seconds(settings.rate_limit.login_window_secs.into()),
            },
            clock.clone(),
        );
        let auth = Arc::new(AuthService::new(
            AuthPorts {
                users: users.clone(),
                sessions: sessions.clone(),
                hasher: hasher.clone(),
                verifier,
                clock: clock.clone(),
                ids: ids.clone(),
                mfa: ChallengeIssuer::new(
                    challenges.clone(),
                    Arc::new(RandomSecretGenerator),
                    ids.clone(),
                    clock.clone(),
                ),
                audit: auditor.clone(),
            },
            issuer.clone(),
            guard.clone(),
            dummy_hash,
        ));
        let mfa_ports = MfaPorts {
            users: users.clone(),
            factors,
            sessions: sessions.clone(),
            codes: Arc::new(TotpRsCodes),
            cipher,
            guard: guard.clone(),
            clock: clock.clone(),
            audit: auditor.clone(),
        };
        let mfa = Arc::new(MfaService::new(
            mfa_ports.clone(),
            settings.mfa.issuer.trim().to_owned(),
        ));
        let mfa_login = Arc::new(MfaChallengeService::new(
            mfa_ports,
            challenges,
            issuer.clone(),
        ));
        let session_service = Arc::new(SessionService::new(
            sessions.clone(),
            issuer,
            clock.clone(),
            auditor.clone(),
        ));
        let account = Arc::new(AccountService::new(AccountPorts {
            users: users.clone(),
            hasher: hasher.clone(),
            guard,
            clock: clock.clone(),
            audit: auditor.clone(),
        }));
        let recovery = Arc::new(RecoveryService::new(
            RecoveryPorts {
                users: users.clone(),
                hasher,
                tokens: action_tokens,
                mailer: Arc::new(outbox),
                limiter: rate_limiter.clone(),
                clock: clock.clone(),
                ids,
                secrets: Arc::new(RandomSecretGenerator),
                audit: auditor.clone(),
            },
            MailSettings {
                links: MailLinks {
                    verify_url: settings.mail.verify_url.clone(),
                    reset_url: settings.mail.reset_url.clone(),
                },
                per_address_per_hour: settings.rate_limit.mail_per_hour.into(),
            },
        ));
        let projects = Arc::new(ProjectService::new(
            Arc::new(SeaOrmProjectRepository::new(db.clone())),
            clock.clone(),
            Arc::new(UuidV7Generator),
        ));
        let admin = Arc::new(AdminService::new(users, clock.clone(), auditor));
        let audit = Arc::new(AuditService::new(
            audit_log,
            clock.clone(),
            settings.audit.retention(),
        ));
        Ok(Self {
            auth,
            sessions: session_service,
            account,
            recovery,
            projects,
            admin,
            mfa,
            mfa_login,
            audit,
            jwks,
            rate_limiter,
            hashing: pool,
            readiness: Arc::new(SeaOrmReadiness::new(db)),
            session_cache,
            mail,
        })
    }
}

impl Application {
    /// Connects, applies pending migrations, wires the adapters into the
    /// use-cases and binds the listener.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, the keys are
    /// unusable, or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], but never touches the schema (`authd
    /// serve --no-migrate`, when migrations run once per deploy).
    ///
    /// # Errors
    /// As [`Application::build`], but for migrations.
    pub async fn build_without_migrations(settings: Settings) -> anyhow::Result<Self> {
        Self::assemble(settings, Arc::new(SystemClock), false).await
    }

    /// As [`Application::build`], with every reading of the time (token
    /// lifetimes, grace periods, rate-limit windows, purges) taken from
    /// `clock`, so tests move time instead of sleeping.
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Self::assemble(settings, clock, true).await
    }

    async fn assemble(
        settings: Settings,
        clock: Arc<dyn Clock>,
        migrate: bool,
    ) -> anyhow::Result<Self> {
        settings.validate_for_serving()?;
        let keys = Arc::new(signing_keys(&settings)?);
        let db = open_database(&settings).await?;
        let schema = if migrate {
            auth_migrations::apply_pending(&db)
                .await
                .context("could not apply database migrations")?;
            None
        } else {
            unapplied_migrations(&db).await?
        };

        let metrics = Arc::new(Metrics::with_process_metrics());
        let services =
            Services::wire(&settings, db.clone(), keys, clock.clone(), metrics.clone()).await?;
        listen(services.session_cache.clone(), &db);
        spawn_purge(
            services.sessions.clone(),
            services.recovery.clone(),
            services.mfa_login.clone(),
            services.audit.clone(),
            services.rate_limiter.clone(),
            clock.clone(),
        );
        let Services {
            auth,
            sessions,
            account,
            recovery,
            projects,
            admin,
            mfa,
            mfa_login,
            audit,
            jwks,
            rate_limiter,
            hashing,
            readiness,
            session_cache: _,
            mail,
        } = services;
        let state = web::Data::new(AppState {
            jwks,
            auth,
            sessions,
            account,
            recovery,
            projects,
            admin,
            mfa,
            mfa_login,
            audit,
            rate_limiter,
            ip_per_minute: settings.rate_limit.ip_per_minute,
            clock,
            metrics,
            hashing,
            readiness,
            schema,
            password_policy: PasswordPolicy {
                min_length: settings.password.min_length,
            },
            trusted_proxies: TrustedProxies::parse(&settings.server.trusted_proxies)
                .map_err(|entry| anyhow::anyhow!("invalid trusted proxy {entry:?}"))?,
            body_limit: settings.server.body_limit_bytes,
        });

        let exposure = settings.metrics.exposure()?;
        let metrics_here = exposure == MetricsExposure::Main;
        let metrics = match &exposure {
            MetricsExposure::Separate(address) => Some(metrics_server(address, state.clone())?),
            MetricsExposure::Main | MetricsExposure::Off => None,
        };
        // A per-request Sentry scope (the request, its id as a tag) when
        // Sentry is on; it costs a few allocations per request, so it is not
        // there otherwise. Server errors reach Sentry as the ERROR line they
        // are logged with (with its cause), not a second time from here.
        let sentry = settings.sentry.dsn.is_some();

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener =
            TcpListener::bind(&address).with_context(|| format!("could not bind {address}"))?;
        let port = listener.local_addr()?.port();
        let body_limit = settings.server.body_limit_bytes;
        let openapi = web::Data::new(
            crate::openapi::ServedDocument::new(settings.password.min_length, metrics_here)
                .context("could not encode the OpenAPI document")?,
        );
        let cors = web::Data::new(
            CorsPolicy::parse(&settings.server.cors_origins)
                .map_err(|reason| anyhow::anyhow!("server.cors_origins: {reason}"))?,
        );
        let mut server = HttpServer::new(move || {
            // The last `wrap` is the outermost: `request_context` sees every
            // response, CORS preflights included.
            App::new()
                .app_data(state.clone())
                .app_data(cors.clone())
                .app_data(openapi.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .wrap(Compress::default())
                .wrap(from_fn(crate::cors::cors))
                .wrap(from_fn(middleware::request_context))
                .wrap(Condition::new(
                    sentry,
                    sentry_actix::Sentry::builder()
                        .capture_server_errors(false)
                        .finish(),
                ))
                .configure(routes::configure)
                .configure(|cfg| {
                    if metrics_here {
                        routes::metrics(cfg);
                    }
                })
                // The UI reads the document `routes::configure` serves.
                .service(
                    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::from("/openapi.json")),
                )
                .default_service(web::to(routes::not_found))
        })
        // Lets `stop_when_client_leaves` notice a client that went away.
        .on_connect(middleware::keep_client_socket)
        .shutdown_timeout(30)
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        tracing::info!(%address, port, "listening");
        // Started last, so a failed start leaves no worker behind.
        let outbox = mail.spawn();
        Ok(Self {
            port,
            server: server.run(),
            metrics,
            outbox,
        })
    }

    /// The bound port (useful with port 0).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `/metrics`'s own listener, when `metrics.address` gives
    /// it one.
    #[must_use]
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The mail outbox worker of this instance (tests wake or drain it).
    #[must_use]
    pub fn mail_outbox(&self) -> OutboxHandle {
        self.outbox.clone()
    }

    /// Serves until SIGTERM or Ctrl-C, then drains in-flight requests and
    /// stops the mail worker (the send under way is finished and recorded;
    /// queued mail waits in the database for the next start).
    ///
    /// # Errors
    /// When a server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = match self.metrics {
            Some((_, metrics)) => futures_util::future::try_join(self.server, metrics)
                .await
                .map(|_| ()),
            None => self.server.await,
        };
        self.outbox.stop().await;
        served
    }
}

/// `GET /metrics` alone on a listener at `address` (`metrics.address`),
/// with the request pipeline of the main listener (request id, headers,
/// problem documents; its requests are counted too). Returns its port.
fn metrics_server(address: &str, state: web::Data<AppState>) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("could not bind the metrics listener {address}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(middleware::request_context))
            .configure(routes::metrics)
            .default_service(web::to(routes::not_found))
    })
    .workers(1)
    .shutdown_timeout(5)
    .listen(listener)?;
    tracing::info!(%address, port, "metrics listening");
    Ok((port, server.run()))
}
