//! One writer at a time on SQLite, queued in the process instead of in
//! SQLite's busy handler.

use std::sync::Arc;

use sea_orm::{DatabaseBackend, DatabaseConnection};
use tokio::sync::{Mutex, MutexGuard};

/// Serialises a repository's write transactions on SQLite.
///
/// SQLite lets one connection write at a time. A second writer is refused
/// with `SQLITE_BUSY` and its busy handler sleeps (1, 2, 5, 10 … 100 ms)
/// before it tries again, so with many concurrent writers most of the time
/// goes to sleeping: 64 concurrent refreshes ran at half the rate of one.
/// Waiting here instead, in a fair FIFO queue, hands the lock over the
/// moment it is free. PostgreSQL locks rows, not the database: there the
/// gate is open.
#[derive(Debug, Clone)]
pub(crate) struct WriteGate(Option<Arc<Mutex<()>>>);

impl WriteGate {
    /// A gate for writes on `db`: closed one-at-a-time on SQLite, open
    /// otherwise.
    pub(crate) fn for_connection(db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DatabaseBackend::Sqlite => Self(Some(Arc::new(Mutex::new(())))),
            _ => Self(None),
        }
    }

    /// Waits for this gate's turn; the write may run while the guard lives.
    pub(crate) async fn enter(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.0 {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }
}
