use anyhow::anyhow;
use async_trait::async_trait;
use auth_domain::audit::{AuditDetails, AuditEvent, AuditFilter, AuditLog, DetailValue};
use auth_domain::common::{Cursor, Page, PageRequest, StorageError};
use auth_domain::user::UserId;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseConnection, EntityTrait as _,
    QueryFilter as _,
};

use super::entities::audit_event;
use super::error::storage_error;

/// [`AuditLog`] on SeaORM. The repositories write the events that
/// accompany their changes with [`insert_event`], on their transaction.
#[derive(Debug, Clone)]
pub struct SeaOrmAuditLog {
    db: DatabaseConnection,
}

impl SeaOrmAuditLog {
    /// A log on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Stores `event` on `conn`: the pool, or the transaction of the change it
/// records.
pub(crate) async fn insert_event<C: ConnectionTrait>(
    conn: &C,
    event: &AuditEvent,
) -> Result<(), StorageError> {
    event_insert(event)
        .exec_without_returning(conn)
        .await
        .map_err(storage_error)?;
    Ok(())
}

/// The insert of `event`, to run or to build into a larger statement.
pub(crate) fn event_insert(event: &AuditEvent) -> sea_orm::Insert<audit_event::ActiveModel> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(event.id),
        event_type: Set(event.kind.as_str().to_owned()),
        user_id: Set(event.user_id.map(|id| id.0)),
        actor_id: Set(event.actor_id.map(|id| id.0)),
        ip: Set(event.ip.clone()),
        user_agent: Set(event.user_agent.clone()),
        created_at: Set(event.created_at),
        details: Set(details_json(&event.details).to_string()),
    })
}

fn details_json(details: &AuditDetails) -> serde_json::Value {
    serde_json::Value::Object(
        details
            .iter()
            .map(|(key, value)| (key.to_owned(), value_json(value)))
            .collect(),
    )
}

fn value_json(value: &DetailValue) -> serde_json::Value {
    match value {
        DetailValue::Text(text) => serde_json::Value::from(text.as_str()),
        DetailValue::Integer(n) => serde_json::Value::from(*n),
        DetailValue::Bool(b) => serde_json::Value::from(*b),
        DetailValue::Object(object) => details_json(object),
    }
}

fn parse_details(raw: &str) -> Result<AuditDetails, StorageError> {
    let unexpected = || StorageError::Unexpected(anyhow!("malformed audit details stored"));
    let serde_json::Value::Object(object) = serde_json::from_str(raw).map_err(|_| unexpected())?
    else {
        return Err(unexpected());
    };
    object_details(object).ok_or_else(unexpected)
}

fn object_details(object: serde_json::Map<String, serde_json::Value>) -> Option<AuditDetails> {
    let mut details = AuditDetails::new();
    for (key, value) in object {
        let value = match value {
            serde_json::Value::String(text) => DetailValue::Text(text),
            serde_json::Value::Bool(b) => DetailValue::Bool(b),
            serde_json::Value::Number(n) => DetailValue::Integer(n.as_i64()?),
            serde_json::Value::Object(inner) => DetailValue::Object(object_details(inner)?),
            serde_json::Value::Null | serde_json::Value::Array(_) => return None,
        };
        details.insert(key, value);
    }
    Some(details)
}

fn to_domain(row: audit_event::Model) -> Result<AuditEvent, StorageError> {
    Ok(AuditEvent {
        id: row.id,
        kind: row.event_type.parse().map_err(|_| {
            StorageError::Unexpected(anyhow!(
                "unknown audit event type {:?} stored",
                row.event_type
            ))
        })?,
        user_id: row.user_id.map(UserId),
        actor_id: row.actor_id.map(UserId),
        ip: row.ip,
        user_agent: row.user_agent,
        created_at: row.created_at,
        details: parse_details(&row.details)?,
    })
}

#[async_trait]
impl AuditLog for SeaOrmAuditLog {
    async fn record(&self, event: &AuditEvent) -> Result<(), StorageError> {
        insert_event(&self.db, event).await
    }

    async fn list(
        &self,
        filter: AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, StorageError> {
        let mut query = audit_event::Entity::find();
        if let Some(user) = filter.user_id {
            query = query.filter(audit_event::Column::UserId.eq(user.0));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(audit_event::Column::EventType.eq(kind.as_str()));
        }
        let rows = super::keyset::newest_first(
            query,
            audit_event::Column::CreatedAt,
            audit_event::Column::Id,
            page,
        )
        .all(&self.db)
        .await
        .map_err(storage_error)?
        .into_iter()
        .map(to_domain)
        .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(rows, page.limit, |e| Cursor {
            created_at: e.created_at,
            id: e.id,
        }))
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let result = audit_event::Entity::delete_many()
            .filter(audit_event::Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(storage_error)?;
        Ok(result.rows_affected)
    }
}
