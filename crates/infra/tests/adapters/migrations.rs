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
    assert_eq!(Migrator::migrations().len(), 10);
    let tables = [
        "users",
        "projects",
        "sessions",
        "refresh_tokens",
        "rate_limits",
        "action_tokens",
        "mfa_factors",
        "mfa_recovery_codes",
        "mfa_challenges",
        "audit_events",
        "mail_outbox",
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
    assert!(!table_exists(&db.db, "mail_outbox").await);
    assert!(!table_exists(&db.db, "audit_events").await);
    for table in [
        "users",
        "projects",
        "sessions",
        "refresh_tokens",
        "rate_limits",
        "action_tokens",
    ] {
        assert!(table_exists(&db.db, table).await, "{table} after two down");
    }
    let pending: Vec<String> = Migrator::get_pending_migrations(&db.db)
        .await
        .expect("pending")
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let latest: Vec<String> = Migrator::migrations()
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(pending, latest);
});

db_test!(
    the_one_live_token_migration_keeps_only_the_newest_live_token,
    |db| {
        use auth_infra::sea_orm::entities::{refresh_token, session, user};
        use sea_orm::ActiveValue::{NotSet, Set};
        use sea_orm::EntityTrait as _;

        // Back to before the index (the sixth migration is the last kept).
        let after_index = u32::try_from(Migrator::migrations().len() - 6).expect("steps");
        Migrator::down(&db.db, Some(after_index))
            .await
            .expect("revert the index");
        // Rows as the schema was then: the columns later migrations added
        // (`users.mfa_enabled`, `sessions.amr`) are left out.
        let ada = crate::fixtures::user("ada@example.com");
        user::Entity::insert(user::ActiveModel {
            id: Set(ada.id.0),
            email: Set(ada.email.as_str().to_owned()),
            password_hash: Set(ada.password_hash.as_str().to_owned()),
            display_name: Set(None),
            email_verified: Set(false),
            role: Set("user".to_owned()),
            is_active: Set(true),
            mfa_enabled: NotSet,
            created_at: Set(ada.created_at),
            updated_at: Set(ada.updated_at),
        })
        .exec_without_returning(&db.db)
        .await
        .expect("insert ada");
        let session = crate::fixtures::session(ada.id);
        session::Entity::insert(session::ActiveModel {
            id: Set(session.id.0),
            user_id: Set(ada.id.0),
            user_agent: Set(None),
            ip: Set(None),
            created_at: Set(session.created_at),
            last_used_at: Set(session.last_used_at),
            expires_at: Set(session.expires_at),
            revoked_at: Set(None),
            amr: NotSet,
        })
        .exec_without_returning(&db.db)
        .await
        .expect("insert the session");
        let oldest = crate::fixtures::refresh_token(&session);
        // Two more live tokens, as the old grace-period replays left them.
        let now = crate::fixtures::now();
        let siblings = [
            crate::fixtures::replacement(&session, now),
            crate::fixtures::replacement(&session, now + chrono::Duration::seconds(1)),
        ];
        for token in std::iter::once(&oldest).chain(&siblings) {
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

/// The `seaql_migrations` rows, by name.
async fn applied(db: &DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await
        .expect("read seaql_migrations");
    rows.iter()
        .map(|row| row.try_get::<String>("", "version").expect("version"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrators_apply_each_migration_once_on_postgres() {
    let Some(db) = auth_infra::testing::TestDatabase::postgres_unmigrated().await else {
        eprintln!("TEST_DATABASE_URL is unset: PostgreSQL test not run");
        return;
    };
    assert!(!table_exists(&db.db, "users").await, "starts empty");
    // Twenty instances starting together, each with a pool of its own.
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move {
                let pool = auth_infra::sea_orm::connect(&url, 2)
                    .await
                    .expect("connect");
                let result = auth_migrations::apply_pending(&pool).await;
                pool.close().await.ok();
                result
            })
        })
        .collect();
    for run in runs {
        run.await
            .expect("migrator task")
            .expect("every migrator succeeds");
    }
    let expected: Vec<String> = {
        let mut names: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        applied(&db.db).await,
        expected,
        "each migration recorded once"
    );
    for table in ["users", "sessions", "action_tokens", "mail_outbox"] {
        assert!(table_exists(&db.db, table).await, "{table}");
    }
    assert!(
        Migrator::get_pending_migrations(&db.db)
            .await
            .expect("pending")
            .is_empty()
    );
}

db_test!(
    apply_pending_and_revert_latest_work_on_either_engine,
    |db| {
        auth_migrations::revert_latest(&db.db)
            .await
            .expect("revert the latest");
        assert_eq!(
            Migrator::get_pending_migrations(&db.db)
                .await
                .expect("pending")
                .len(),
            1
        );
        auth_migrations::apply_pending(&db.db)
            .await
            .expect("apply it again");
        assert_eq!(applied(&db.db).await.len(), Migrator::migrations().len());
    }
);

db_test!(
    pending_reads_what_is_left_without_touching_the_schema,
    |db| {
        let names: Vec<String> = Migrator::migrations()
            .iter()
            .map(|migration| migration.name().to_owned())
            .collect();
        assert!(
            auth_migrations::pending(&db.db)
                .await
                .expect("pending")
                .is_empty()
        );
        Migrator::down(&db.db, Some(2)).await.expect("two down");
        assert_eq!(
            auth_migrations::pending(&db.db).await.expect("pending"),
            names[names.len() - 2..]
        );
        Migrator::down(&db.db, None).await.expect("all down");
        assert_eq!(
            auth_migrations::pending(&db.db).await.expect("pending"),
            names
        );
        // A database never migrated: everything is pending, and reading that
        // creates no table (sea-orm-migration's own status would).
        db.db
            .execute_unprepared("DROP TABLE seaql_migrations")
            .await
            .expect("drop the migrations table");
        assert_eq!(
            auth_migrations::pending(&db.db).await.expect("pending"),
            names
        );
        assert!(!table_exists(&db.db, "seaql_migrations").await);
    }
);
