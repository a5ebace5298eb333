//! The schema migrations: reversible, and the same on both engines.

use auth_infra::db_test;
use auth_migrations::{Migrator, MigratorTrait as _};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};

async fn table_exists(db: &DatabaseConnection, table: &str) -> bool {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => format!(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        ),
        _ => format!(
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = '{table}'"
        ),
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .expect("query the catalogue")
        .expect("one row");
    row.try_get::<i64>("", "n").expect("count") == 1
}

db_test!(migrations_are_reversible, |db| {
    assert_eq!(Migrator::migrations().len(), 6);
    let tables = [
        "users",
        "projects",
        "sessions",
        "refresh_tokens",
        "rate_limits",
        "action_tokens",
    ];
    for table in tables {
        assert!(table_exists(&db.db, table).await, "{table} after up");
    }
    assert!(
        Migrator::get_pending_migrations(&db.db)
            .await
            .expect("pending")
            .is_empty()
    );

    Migrator::down(&db.db, None)
        .await
        .expect("revert every migration");
    for table in tables {
        assert!(!table_exists(&db.db, table).await, "{table} after down");
    }
    assert_eq!(
        Migrator::get_pending_migrations(&db.db)
            .await
            .expect("pending")
            .len(),
        Migrator::migrations().len()
    );

    Migrator::up(&db.db, None)
        .await
        .expect("re-apply every migration");
    for table in tables {
        assert!(table_exists(&db.db, table).await, "{table} after up again");
    }
    // Applying again is a no-op.
    Migrator::up(&db.db, None).await.expect("idempotent up");
});

db_test!(one_step_down_reverts_only_the_latest, |db| {
    Migrator::down(&db.db, Some(1)).await.expect("revert one");
    assert!(!table_exists(&db.db, "action_tokens").await);
    for table in [
        "users",
        "projects",
        "sessions",
        "refresh_tokens",
        "rate_limits",
    ] {
        assert!(table_exists(&db.db, table).await, "{table} after one down");
    }
    assert_eq!(
        Migrator::get_pending_migrations(&db.db)
            .await
            .expect("pending")
            .len(),
        1
    );
});
