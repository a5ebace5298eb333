//! The cross-instance feed: `LISTEN auth_session_cache` on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgListener, PgPool};
use sea_orm::{DatabaseBackend, DatabaseConnection};

use super::{CHANNEL, Invalidation, SessionCache};

/// The longest pause between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Keeps `cache` in step with the other instances on a PostgreSQL `db`:
/// applies every invalidation they publish, and bypasses the cache while
/// the feed is down. Does nothing on SQLite. Runs until the runtime stops.
pub fn listen(cache: Arc<SessionCache>, db: &DatabaseConnection) {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    let pool = db.get_postgres_connection_pool().clone();
    tokio::spawn(run(cache, pool));
}

async fn run(cache: Arc<SessionCache>, pool: PgPool) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                // Whatever was published while the feed was down is lost:
                // start from nothing, then trust the cache again.
                cache.forget_all();
                cache.set_trusted(true);
                backoff = Duration::from_millis(50);
                tracing::debug!("session cache feed connected");
                follow(&cache, &mut listener).await;
                cache.set_trusted(false);
                cache.forget_all();
                tracing::warn!("session cache feed lost; reading sessions from the database");
            }
            Err(error) => {
                tracing::warn!(%error, "session cache feed unavailable; reading sessions from the database");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Applies notifications until the connection drops.
async fn follow(cache: &SessionCache, listener: &mut PgListener) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match Invalidation::parse(notification.payload()) {
                Some(change) => cache.forget(change),
                None => cache.forget_all(),
            },
            // `None`: the connection was lost (and notifications with it).
            Ok(None) | Err(_) => return,
        }
    }
}
