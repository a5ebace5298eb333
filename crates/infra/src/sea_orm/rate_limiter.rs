use async_trait::async_trait;
use auth_domain::common::{RateLimiter, StorageError, WindowCount, hit_one_by_one};
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

/// Counts one event for key `$1` at `$2`, starting a new window when the
/// current one started at or before `$3`.
const UPSERT: &str = "INSERT INTO rate_limits (key, count, window_start) VALUES ($1, 1, $2) \
    ON CONFLICT (key) DO UPDATE SET \
      count = CASE WHEN rate_limits.window_start <= $3 THEN 1 \
                   ELSE rate_limits.count + 1 END, \
      window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 \
                          ELSE rate_limits.window_start END";

/// [`UPSERT`] for key `$4`, run only if the count `first_key` returned is
/// within `$5` (PostgreSQL, after a `first_key` part).
const UPSERT_IF_FIRST_WITHIN: &str = "INSERT INTO rate_limits (key, count, window_start) \
    SELECT $4, 1, $2 FROM first_key WHERE first_key.count <= $5 \
    ON CONFLICT (key) DO UPDATE SET \
      count = CASE WHEN rate_limits.window_start <= $3 THEN 1 \
                   ELSE rate_limits.count + 1 END, \
      window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 \
                          ELSE rate_limits.window_start END";

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
            &format!("{UPSERT} RETURNING count, window_start"),
            vec![key.into(), now.into(), expired_before.into()],
        );
        let row = self
            .db
            .query_one_raw(statement)
            .await
            .map_err(storage_error)?;
        window_count(row, window, now)
    }

    async fn hit_in_turn<'a>(
        &self,
        keys: &[(&'a str, u64)],
        window: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<Vec<WindowCount>, StorageError> {
        let &[(first, first_limit), (then, _)] = keys else {
            return hit_one_by_one(self, keys, window, now).await;
        };
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return hit_one_by_one(self, keys, window, now).await;
        }
        // Two counts, one statement: the second key is counted only when
        // the first key's count, as its upsert returns it, is within its
        // limit.
        let statement = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!(
                "WITH first_key AS ({UPSERT} RETURNING count, window_start), \
                 second_key AS ({UPSERT_IF_FIRST_WITHIN} RETURNING count, window_start) \
                 SELECT 0 AS turn, count, window_start FROM first_key \
                 UNION ALL SELECT 1 AS turn, count, window_start FROM second_key \
                 ORDER BY turn"
            ),
            vec![
                first.into(),
                now.into(),
                (now - window).into(),
                then.into(),
                i64::try_from(first_limit).unwrap_or(i64::MAX).into(),
            ],
        );
        let rows = self
            .db
            .query_all_raw(statement)
            .await
            .map_err(storage_error)?;
        rows.into_iter()
            .map(|row| window_count(Some(row), window, now))
            .collect()
    }

    async fn reset_and_release<'a>(
        &self,
        forget: Option<&'a str>,
        release: &str,
    ) -> Result<(), StorageError> {
        let Some(forget) = forget else {
            return self.release(release).await;
        };
        let backend = self.db.get_database_backend();
        // One round trip: one statement on PostgreSQL, two sent at once on
        // SQLite. On PostgreSQL the rows are locked in the order
        // `hit_in_turn` locks them, the forgotten key (the pair) first: the
        // join waits for the whole DELETE before the UPDATE can lock its
        // row. Left unreferenced, the DELETE would run after the UPDATE,
        // and a log-in settling while another reserves would each hold
        // the row the other waits for: a deadlock, which PostgreSQL breaks
        // after a second by failing one of them, every other log-in of the
        // account queued behind the two meanwhile.
        let sql = if backend == DatabaseBackend::Postgres {
            "WITH forgotten AS (DELETE FROM rate_limits WHERE key = $1 RETURNING 1) \
             UPDATE rate_limits SET count = rate_limits.count - 1 \
             FROM (SELECT count(*) AS forgotten FROM forgotten) AS settled \
             WHERE rate_limits.key = $2 AND rate_limits.count > 0"
        } else {
            "DELETE FROM rate_limits WHERE key = $1; \
             UPDATE rate_limits SET count = count - 1 WHERE key = $2 AND count > 0"
        };
        let statement =
            Statement::from_sql_and_values(backend, sql, vec![forget.into(), release.into()]);
        self.db
            .execute_raw(statement)
            .await
            .map_err(storage_error)?;
        Ok(())
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
