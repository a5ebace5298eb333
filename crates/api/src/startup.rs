//! Building and running the application: the composition root.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use auth_domain::auth::{AuthPorts, AuthService, AuthSettings};
use auth_domain::common::{Clock, SecretGenerator as _};
use auth_domain::user::{Password, PasswordHasher as _, PasswordPolicy};
use auth_infra::argon2::Argon2PasswordHasher;
use auth_infra::blocking::BlockingPool;
use auth_infra::jwt::{JwtKeys, JwtSettings, JwtTokenIssuer, JwtTokenVerifier};
use auth_infra::sea_orm::{
    SeaOrmSessionRepository, SeaOrmUserRepository, connect, ensure_sqlite_parent_dir,
};
use auth_infra::system::{RandomSecretGenerator, SystemClock, UuidV7Generator};
use auth_migrations::{Migrator, MigratorTrait as _};
use chrono::TimeDelta;
use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use crate::extractors::TrustedProxies;
use crate::settings::Settings;
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

impl Application {
    /// Connects, applies pending migrations, wires the adapters into the
    /// use-cases and binds the listener.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, the keys are
    /// unusable, or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = open_database(&settings).await?;
        Migrator::up(&db, None)
            .await
            .context("could not apply database migrations")?;

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let secret = match &settings.jwt.secret {
            Some(secret) => secret.clone(),
            None => {
                tracing::warn!(
                    "AUTH__JWT__SECRET is unset: using a random secret for this process; \
                     tokens will not survive a restart or work across instances"
                );
                RandomSecretGenerator.generate()
            }
        };
        let keys = Arc::new(JwtKeys::hs256(secret.as_bytes())?);
        let jwt = JwtSettings {
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
        let hasher = Arc::new(Argon2PasswordHasher::new(pool));
        let dummy_hash = hasher
            .hash(&Password::parse(
                SecretString::from(RandomSecretGenerator.generate()),
                &PasswordPolicy::default(),
                None,
            )?)
            .await
            .context("could not compute the dummy password hash")?;

        let ports = AuthPorts {
            users: Arc::new(SeaOrmUserRepository::new(db.clone())),
            sessions: Arc::new(SeaOrmSessionRepository::new(db.clone())),
            hasher,
            issuer: Arc::new(JwtTokenIssuer::new(keys.clone(), jwt.clone())),
            verifier: Arc::new(JwtTokenVerifier::new(keys, &jwt, clock.clone())),
            clock,
            ids: Arc::new(UuidV7Generator),
            secrets: Arc::new(RandomSecretGenerator),
        };
        let auth = AuthService::new(
            ports,
            AuthSettings {
                access_ttl: TimeDelta::seconds(settings.jwt.access_ttl_secs.into()),
                refresh_ttl: TimeDelta::seconds(settings.jwt.refresh_ttl_secs.into()),
            },
            dummy_hash,
        );
        let state = web::Data::new(AppState {
            auth: Arc::new(auth),
            password_policy: PasswordPolicy {
                min_length: settings.password.min_length,
            },
            db,
            trusted_proxies: TrustedProxies::parse(&settings.server.trusted_proxies)
                .map_err(|entry| anyhow::anyhow!("invalid trusted proxy {entry:?}"))?,
            body_limit: settings.server.body_limit_bytes,
        });

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener =
            TcpListener::bind(&address).with_context(|| format!("could not bind {address}"))?;
        let port = listener.local_addr()?.port();
        let body_limit = settings.server.body_limit_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .wrap(Compress::default())
                .wrap(from_fn(middleware::request_context))
                .configure(routes::configure)
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
