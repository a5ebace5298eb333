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
    assert_eq!(Migrator::migrations().len(), 8);
    let tables = [
        "users",
        "projects",
        "sessions",
        "refresh_tokens",
        "rate_limits",
        "action_tokens",
        "audit_events",
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

db_test!(two_steps_down_revert_only_the_latest_two, |db| {
    Migrator::down(&db.db, Some(2)).await.expect("revert two");
    assert!(!table_exists(&db.db, "audit_events").await);
    for table in [
        "users",
        "projects",
        "sessions",
        "refresh_tokens",
        "rate_limits",
        "action_tokens",
    ] {
        assert!(table_exists(&db.db, table).await, "{table} after one down");
    }
    assert_eq!(
        Migrator::get_pending_migrations(&db.db)
            .await
            .expect("pending")
            .len(),
        2
    );
});

db_test!(
    the_one_live_token_migration_keeps_only_the_newest_live_token,
    |db| {
        use auth_domain::session::SessionRepository as _;
        use auth_domain::user::UserRepository as _;
        use auth_infra::sea_orm::entities::refresh_token;
        use auth_infra::sea_orm::{SeaOrmSessionRepository, SeaOrmUserRepository};
        use sea_orm::{ActiveValue::Set, EntityTrait as _};

        let ada = crate::fixtures::user("ada@example.com");
        SeaOrmUserRepository::new(db.db.clone())
            .insert(&ada, &crate::fixtures::event())
            .await
            .expect("insert ada");
        // The audit table, then the index.
        Migrator::down(&db.db, Some(2))
            .await
            .expect("revert the index");
        let sessions = SeaOrmSessionRepository::new(db.db.clone());
        let session = crate::fixtures::session(ada.id);
        let oldest = crate::fixtures::refresh_token(&session);
        sessions.insert(&session, &oldest).await.expect("insert");
        // Two more live tokens, as the old grace-period replays left them.
        let now = crate::fixtures::now();
        let siblings = [
            crate::fixtures::replacement(&session, now),
            crate::fixtures::replacement(&session, now + chrono::Duration::seconds(1)),
        ];
        for token in &siblings {
            refresh_token::Entity::insert(refresh_token::ActiveModel {
                id: Set(token.id.0),
                session_id: Set(token.session_id.0),
                token_hash: Set(token.hash.as_str().to_owned()),
                created_at: Set(token.created_at),
                expires_at: Set(token.expires_at),
                rotated_at: Set(None),
            })
            .exec_without_returning(&db.db)
            .await
            .expect("insert a sibling");
        }

        Migrator::up(&db.db, None).await.expect("apply the index");

        let live: Vec<_> = refresh_token::Entity::find()
            .all(&db.db)
            .await
            .expect("tokens")
            .into_iter()
            .filter(|row| row.rotated_at.is_none())
            .map(|row| row.id)
            .collect();
        assert_eq!(live, vec![siblings[1].id.0], "only the newest stays live");
    }
);
