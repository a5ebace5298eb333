//! Validated sessions served from memory, without ever weakening revocation.
//!
//! Every authenticated request reads its session and user
//! ([`SessionRepository::find_with_user`]). [`SessionCache`] keeps that pair
//! in memory for at most `max_age`, and the decorators [`CachedSessions`] and
//! [`CachedUsers`] keep it honest:
//!
//! - **On this instance**, every write that revokes a session or changes
//!   what a token may do (revoke, revoke all, log-out, password change or
//!   reset, disable, role change, deletion, profile changes, MFA turned on
//!   or off) goes through a
//!   decorator, which drops the affected entries after the write commits and
//!   before it returns: the request that made the change already sees it.
//! - **On other instances** sharing a PostgreSQL database, the decorator also
//!   publishes the change (`NOTIFY auth_session_cache`) and every instance
//!   listens ([`listen`]). While an instance's listener is not connected, its
//!   cache is bypassed (every request reads the database) until it has
//!   reconnected and dropped everything, so a lost notification can never
//!   keep a revoked session alive. On SQLite there is one writer process
//!   (the server); a change made with the CLI takes effect within `max_age`.
//! - **A read racing a revocation** cannot put a stale pair back: each read
//!   notes the cache's epoch before it asks the database, and an entry stored
//!   after any invalidation began is dropped again (see
//!   [`SessionCache::store`]).
//!
//! Beside the sessions, [`CachedVerifier`] keeps the access tokens already
//! verified, for the same `max_age`: the signature check is the costliest
//! part of a cached request, and a token's signature cannot change.

mod decorators;
mod listener;
mod tokens;

pub use decorators::{CachedSecondFactors, CachedSessions, CachedUsers};
pub use listener::listen;
pub use tokens::CachedVerifier;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use auth_domain::session::{Session, SessionId};
use auth_domain::user::{User, UserId};
use moka::sync::Cache;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

/// The PostgreSQL channel invalidations travel on.
pub const CHANNEL: &str = "auth_session_cache";

/// What a change invalidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    /// One session.
    Session(SessionId),
    /// Every session of one user.
    User(UserId),
}

impl Invalidation {
    /// The notification payload: `s:<uuid>` or `u:<uuid>`.
    #[must_use]
    pub fn payload(self) -> String {
        match self {
            Self::Session(id) => format!("s:{}", id.0),
            Self::User(id) => format!("u:{}", id.0),
        }
    }

    /// Reads a payload written by [`Invalidation::payload`].
    #[must_use]
    pub fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        let id = uuid::Uuid::parse_str(id).ok()?;
        match kind {
            "s" => Some(Self::Session(SessionId(id))),
            "u" => Some(Self::User(UserId(id))),
            _ => None,
        }
    }
}

/// The map behind the cache: bounded, each entry kept at most `max_age`.
fn entries(max_age: Duration, capacity: u64) -> Cache<SessionId, Arc<(Session, User)>> {
    Cache::builder()
        .max_capacity(capacity)
        .time_to_live(max_age)
        .support_invalidation_closures()
        .build()
}

/// The cache of validated sessions. See the [module](self) documentation.
pub struct SessionCache {
    /// `None` when the cache is off (`max_age` 0): writes still publish.
    entries: Option<Cache<SessionId, Arc<(Session, User)>>>,
    /// Bumped by every invalidation, before the entries are dropped.
    epoch: AtomicU64,
    /// `false` while the cross-instance feed is down: reads bypass the cache.
    trusted: AtomicBool,
    /// Where to publish invalidations for the other instances.
    publish_to: Option<DatabaseConnection>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("enabled", &self.entries.is_some())
            .field("trusted", &self.trusted.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl SessionCache {
    /// A cache of at most `capacity` sessions, each trusted for at most
    /// `max_age` (`Duration::ZERO` turns the cache off). On PostgreSQL,
    /// invalidations are published on `db`, and the cache is bypassed until
    /// [`listen`] has connected; on SQLite it is trusted at once.
    #[must_use]
    pub fn new(max_age: Duration, capacity: u64, db: &DatabaseConnection) -> Arc<Self> {
        let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
        let entries = (!max_age.is_zero()).then(|| entries(max_age, capacity));
        Arc::new(Self {
            entries,
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(!postgres),
            publish_to: postgres.then(|| db.clone()),
        })
    }

    /// A cache for one process on its own (SQLite, or a test or benchmark):
    /// trusted at once, publishing nothing.
    #[must_use]
    pub fn local(max_age: Duration, capacity: u64) -> Arc<Self> {
        Arc::new(Self {
            entries: (!max_age.is_zero()).then(|| entries(max_age, capacity)),
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(true),
            publish_to: None,
        })
    }

    /// A cache that never holds anything and publishes nothing.
    #[must_use]
    pub fn disabled() -> Arc<Self> {
        Arc::new(Self {
            entries: None,
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(false),
            publish_to: None,
        })
    }

    /// The cached pair, unless the cache is off or not trusted right now.
    #[must_use]
    pub fn get(&self, id: SessionId) -> Option<(Session, User)> {
        if !self.trusted.load(Ordering::SeqCst) {
            return None;
        }
        let entry = self.entries.as_ref()?.get(&id)?;
        Some((entry.0.clone(), entry.1.clone()))
    }

    /// The epoch to pass to [`SessionCache::store`]; read it before reading
    /// the database.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Keeps a pair read from the database after [`SessionCache::epoch`]
    /// returned `epoch`. If any invalidation began since, the pair may be
    /// older than it, so it is dropped again: an invalidation that bumped
    /// the epoch before this check is seen here, and one that bumps it after
    /// drops the entry itself.
    pub fn store(&self, epoch: u64, session: Session, user: User) {
        let Some(entries) = &self.entries else {
            return;
        };
        let id = session.id;
        entries.insert(id, Arc::new((session, user)));
        if self.epoch.load(Ordering::SeqCst) != epoch {
            entries.invalidate(&id);
        }
    }

    /// Drops what `change` affects on this instance.
    pub fn forget(&self, change: Invalidation) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let Some(entries) = &self.entries else {
            return;
        };
        match change {
            Invalidation::Session(id) => entries.invalidate(&id),
            Invalidation::User(user) => {
                // Registered predicates apply to every entry stored before
                // this call; `get` never returns a matching one.
                if let Err(error) =
                    entries.invalidate_entries_if(move |_, entry| entry.1.id == user)
                {
                    tracing::error!(%error, "could not invalidate a user's cached sessions");
                    entries.invalidate_all();
                }
            }
        }
    }

    /// Drops everything (the feed reconnected, or a notification could not
    /// be read).
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(entries) = &self.entries {
            entries.invalidate_all();
        }
    }

    /// Drops what `change` affects here, then tells the other instances. A
    /// failed notification is logged: the change itself is committed.
    pub async fn invalidate(&self, change: Invalidation) {
        self.forget(change);
        if let Some(db) = &self.publish_to {
            let notify = Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), change.payload().into()],
            );
            if let Err(error) = db.execute_raw(notify).await {
                tracing::error!(
                    %error,
                    "could not publish a session invalidation; other instances will \
                     notice it within the cache's maximum age"
                );
            }
        }
    }

    fn set_trusted(&self, trusted: bool) {
        self.trusted.store(trusted, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests;
