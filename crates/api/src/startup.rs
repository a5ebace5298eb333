//! Building and running the application: the composition root.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use auth_domain::audit::{AuditLog, AuditService, Auditor};
use auth_domain::auth::{
    AuthPorts, AuthService, AuthSettings, LoginLimits, PasswordGuard, SessionIssuer,
};
use auth_domain::common::{
    Clock, HashingLoad, IdGenerator, RateLimiter, Readiness, SecretGenerator as _,
};
use auth_domain::mail::Mailer;
use auth_domain::project::ProjectService;
use auth_domain::recovery::{MailLinks, MailSettings, RecoveryPorts, RecoveryService};
use auth_domain::session::{SessionRepository, SessionService};
use auth_domain::user::{
    AccountPorts, AccountService, AdminService, Password, PasswordHasher, PasswordPolicy,
    UserRepository,
};
use auth_infra::argon2::Argon2PasswordHasher;
use auth_infra::blocking::BlockingPool;
use auth_infra::jwt::{JwtIdentity, JwtKeys, JwtTokenIssuer, JwtTokenVerifier, SigningAlgorithm};
use auth_infra::mail::{LogMailer, SmtpMailer};
use auth_infra::sea_orm::{
    DatabaseConnection, SeaOrmActionTokenRepository, SeaOrmAuditLog, SeaOrmProjectRepository,
    SeaOrmRateLimiter, SeaOrmReadiness, SeaOrmSessionRepository, SeaOrmUserRepository, connect,
    ensure_sqlite_parent_dir,
};
use auth_infra::system::{RandomSecretGenerator, SystemClock, UuidV7Generator};
use auth_migrations::{Migrator, MigratorTrait as _};
use chrono::TimeDelta;
use secrecy::{ExposeSecret, SecretString};

use crate::cors::CorsPolicy;
use crate::extractors::TrustedProxies;
use crate::metrics::{CountedAuditLog, Metrics};
use crate::settings::{Environment, Settings};
use crate::state::AppState;
use crate::{middleware, routes};

/// A built, bound, not yet running server.
#[allow(missing_debug_implementations)]
pub struct Application {
    port: u16,
    server: Server,
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

/// SMTP when `mail.smtp_url` is set, else the log, with the links' tokens
/// redacted outside development.
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
            JwtKeys::hs256(secret.expose_secret().as_bytes())
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
}

impl Services {
    /// Wires every use-case to the adapters on `db` and `keys`; audit events
    /// that cannot be stored are counted in `metrics`.
    ///
    /// # Errors
    /// When the hashing pool cannot start.
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
            BlockingPool::new(
                "argon2",
                settings.hashing.max_concurrent,
                settings.hashing.max_queue,
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
        let rate_limiter: Arc<dyn RateLimiter> = Arc::new(SeaOrmRateLimiter::new(db.clone()));
        let users: Arc<dyn UserRepository> = Arc::new(SeaOrmUserRepository::new(db.clone()));
        let sessions: Arc<dyn SessionRepository> =
            Arc::new(SeaOrmSessionRepository::new(db.clone()));
        let action_tokens = Arc::new(SeaOrmActionTokenRepository::new(db.clone()));
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
                verifier: Arc::new(JwtTokenVerifier::new(keys, &jwt, clock.clone())),
                clock: clock.clone(),
                ids: ids.clone(),
                audit: auditor.clone(),
            },
            issuer.clone(),
            guard.clone(),
            dummy_hash,
        ));
        let session_service = Arc::new(SessionService::new(
            sessions.clone(),
            issuer,
            clock.clone(),
            auditor.clone(),
        ));
        let account = Arc::new(AccountService::new(AccountPorts {
            users: users.clone(),
            sessions: sessions.clone(),
            hasher: hasher.clone(),
            guard,
            action_tokens: action_tokens.clone(),
            clock: clock.clone(),
            audit: auditor.clone(),
        }));
        let recovery = Arc::new(RecoveryService::new(
            RecoveryPorts {
                users: users.clone(),
                sessions: sessions.clone(),
                hasher,
                tokens: action_tokens,
                mailer: mailer(settings)?,
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
        let admin = Arc::new(AdminService::new(users, sessions, clock.clone(), auditor));
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
            audit,
            jwks,
            rate_limiter,
            hashing: pool,
            readiness: Arc::new(SeaOrmReadiness::new(db)),
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
        if migrate {
            Migrator::up(&db, None)
                .await
                .context("could not apply database migrations")?;
        }

        let metrics = Arc::new(Metrics::default());
        let services = Services::wire(&settings, db, keys, clock.clone(), metrics.clone()).await?;
        spawn_purge(
            services.sessions.clone(),
            services.recovery.clone(),
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
            audit,
            jwks,
            rate_limiter,
            hashing,
            readiness,
        } = services;
        let state = web::Data::new(AppState {
            jwks,
            auth,
            sessions,
            account,
            recovery,
            projects,
            admin,
            audit,
            rate_limiter,
            ip_per_minute: settings.rate_limit.ip_per_minute,
            clock,
            metrics,
            hashing,
            readiness,
            password_policy: PasswordPolicy {
                min_length: settings.password.min_length,
            },
            trusted_proxies: TrustedProxies::parse(&settings.server.trusted_proxies)
                .map_err(|entry| anyhow::anyhow!("invalid trusted proxy {entry:?}"))?,
            body_limit: settings.server.body_limit_bytes,
        });

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener =
            TcpListener::bind(&address).with_context(|| format!("could not bind {address}"))?;
        let port = listener.local_addr()?.port();
        let body_limit = settings.server.body_limit_bytes;
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
                .app_data(web::PayloadConfig::new(body_limit))
                .wrap(Compress::default())
                .wrap(from_fn(crate::cors::cors))
                .wrap(from_fn(middleware::request_context))
                .configure(routes::configure)
                .service(utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url(
                    "/openapi.json",
                    <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi(),
                ))
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(30)
        .listen(listener)?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        tracing::info!(%address, port, "listening");
        Ok(Self {
            port,
            server: server.run(),
        })
    }

    /// The bound port (useful with port 0).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C, then drains in-flight requests.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
