use async_trait::async_trait;
use auth_domain::common::{RateLimiter, StorageError, WindowCount};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait as _, DatabaseBackend, DatabaseConnection, Statement, Value};

use super::error::storage_error;

/// [`RateLimiter`] on a `rate_limits` table: one row per key holding a
/// fixed window's start and count, updated with one atomic upsert, so
/// concurrent hits from any number of instances are all counted.
#[derive(Debug, Clone)]
pub struct SeaOrmRateLimiter {
    db: DatabaseConnection,
}

impl SeaOrmRateLimiter {
    /// A limiter on `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// `$n` placeholders for PostgreSQL, `?n` for SQLite.
    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Sqlite => sql.replace('$', "?"),
            _ => sql.to_owned(),
        };
        Statement::from_sql_and_values(backend, sql, values)
    }
}

fn window_count(
    row: Option<sea_orm::QueryResult>,
    window: TimeDelta,
    now: DateTime<Utc>,
) -> Result<WindowCount, StorageError> {
    let Some(row) = row else {
        return Ok(WindowCount {
            count: 0,
            resets_at: now,
        });
    };
    let count: i64 = row.try_get("", "count").map_err(storage_error)?;
    let start: DateTime<Utc> = row.try_get("", "window_start").map_err(storage_error)?;
    if start + window <= now {
        return Ok(WindowCount {
            count: 0,
            resets_at: now,
        });
    }
    Ok(WindowCount {
        count: u64::try_from(count).unwrap_or(0),
        resets_at: start + window,
    })
}

#[async_trait]
impl RateLimiter for SeaOrmRateLimiter {
    async fn hit(
        &self,
        key: &str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<WindowCount, StorageError> {
        let expired_before = now - window;
        let statement = self.statement(
            "INSERT INTO rate_limits (key, count, window_start) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN rate_limits.window_start <= $3 THEN 1 \
                            ELSE rate_limits.count + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 \
                                   ELSE rate_limits.window_start END \
             RETURNING count, window_start",
            vec![key.into(), now.into(), expired_before.into()],
        );
        let row = self
            .db
            .query_one_raw(statement)
            .await
            .map_err(storage_error)?;
        window_count(row, window, now)
    }

    async fn peek(
        &self,
        key: &str,
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<WindowCount, StorageError> {
        let statement = self.statement(
            "SELECT count, window_start FROM rate_limits WHERE key = $1",
            vec![key.into()],
        );
        let row = self
            .db
            .query_one_raw(statement)
            .await
            .map_err(storage_error)?;
        window_count(row, window, now)
    }

    async fn release(&self, key: &str) -> Result<(), StorageError> {
        let statement = self.statement(
            "UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND count > 0",
            vec![key.into()],
        );
        self.db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), StorageError> {
        let statement = self.statement("DELETE FROM rate_limits WHERE key = $1", vec![key.into()]);
        self.db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StorageError> {
        let statement = self.statement(
            "DELETE FROM rate_limits WHERE window_start < $1",
            vec![before.into()],
        );
        Ok(self
            .db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?
            .rows_affected())
    }
}
