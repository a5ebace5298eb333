//! Recording, reading and purging the audit trail.

use std::sync::Arc;

use chrono::TimeDelta;

use super::{AuditDetails, AuditEvent, AuditEventType, AuditFilter, AuditLog, Origin};
use crate::common::{Clock, IdGenerator, Page, PageRequest};
use crate::user::UserId;

/// The `tracing` target every audit event is logged under, so that a log
/// pipeline can pick them out and ship them.
pub const AUDIT_TARGET: &str = "audit";

/// Why the audit trail could not be read or purged.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Storage is unavailable; try again later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken dependency.
    #[error("unexpected error")]
    Unexpected(#[source] anyhow::Error),
}

crate::common::absorb_failures!(AuditError);

/// Builds audit events and records those that accompany no stored change.
/// Every use-case that emits events holds one.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Auditor {
    log: Arc<dyn AuditLog>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
}

impl Auditor {
    /// An auditor storing through `log`, with ids from `ids` and times from
    /// `clock`.
    #[must_use]
    pub fn new(log: Arc<dyn AuditLog>, ids: Arc<dyn IdGenerator>, clock: Arc<dyn Clock>) -> Self {
        Self { log, ids, clock }
    }

    /// A new event about `user`, caused from `origin`, happening now.
    #[must_use]
    pub fn event(
        &self,
        kind: AuditEventType,
        user: Option<UserId>,
        origin: &Origin,
        details: AuditDetails,
    ) -> AuditEvent {
        AuditEvent {
            id: self.ids.new_id(),
            kind,
            user_id: user,
            actor_id: origin.actor_id,
            ip: origin.client.ip.clone(),
            user_agent: origin.client.user_agent.clone(),
            created_at: self.clock.now(),
            details,
        }
    }

    /// Records an event that accompanies no stored change (a refused
    /// log-in, a log-out…), right after what it describes. A failure is
    /// logged at ERROR and otherwise swallowed: it never fails or undoes
    /// the user's request (the [`AuditLog`] adapter may count it).
    pub async fn record(&self, event: AuditEvent) {
        emit(&event);
        if let Err(error) = self.log.record(&event).await {
            tracing::error!(
                error = %error,
                event_id = %event.id,
                event_type = event.kind.as_str(),
                "audit event could not be stored"
            );
        }
    }
}

/// Writes `event` to the structured log under [`AUDIT_TARGET`]. Called for
/// every event: by [`Auditor::record`], and by the use-cases once the
/// change an event was stored with has been committed.
pub fn emit(event: &AuditEvent) {
    let optional = |id: Option<UserId>| id.map(|id| id.to_string()).unwrap_or_default();
    tracing::info!(
        target: AUDIT_TARGET,
        event_id = %event.id,
        event_type = event.kind.as_str(),
        user_id = %optional(event.user_id),
        actor_id = %optional(event.actor_id),
        ip = event.ip.as_deref().unwrap_or_default(),
        user_agent = event.user_agent.as_deref().unwrap_or_default(),
        created_at = %event.created_at.to_rfc3339(),
        details = %event.details,
        "audit event"
    );
}

/// Reading the trail (administrators, and each user their own) and purging
/// what is past retention.
#[allow(missing_debug_implementations)]
pub struct AuditService {
    log: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    retention: Option<TimeDelta>,
}

impl AuditService {
    /// A service on `log`; events older than `retention` are purged,
    /// `None` keeps them forever.
    #[must_use]
    pub fn new(
        log: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        retention: Option<TimeDelta>,
    ) -> Self {
        Self {
            log,
            clock,
            retention,
        }
    }

    /// A page of every event, newest first, optionally about one user or of
    /// one type.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn list(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, AuditError> {
        Ok(self.log.list(filter, page).await?)
    }

    /// A page of the events about `user`, newest first.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn list_own(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, AuditError> {
        self.list(
            AuditFilter {
                user_id: Some(user),
                kind: None,
            },
            page,
        )
        .await
    }

    /// Deletes the events older than the retention period; nothing when
    /// events are kept forever.
    ///
    /// # Errors
    /// `Unavailable` / `Unexpected` when storage fails.
    pub async fn purge(&self) -> Result<u64, AuditError> {
        // A retention reaching past the calendar's start keeps everything.
        let Some(before) = self
            .retention
            .and_then(|retention| self.clock.now().checked_sub_signed(retention))
        else {
            return Ok(0);
        };
        Ok(self.log.purge(before).await?)
    }
}
