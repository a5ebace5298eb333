//! `connect`: the TLS choice on this host.

use auth_infra::sea_orm::{connect, connect_counters};
use auth_infra::testing::TestDatabase;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};

/// Whether the pool's connection to the server is encrypted.
async fn encrypted(db: &DatabaseConnection) -> bool {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .expect("read pg_stat_ssl")
        .expect("a row for this backend");
    row.try_get("", "ssl").expect("ssl")
}

#[tokio::test]
async fn connections_on_this_host_are_not_encrypted_unless_asked() {
    let Some(test) = TestDatabase::postgres().await else {
        eprintln!("TEST_DATABASE_URL is unset: PostgreSQL test not run");
        return;
    };
    assert!(
        test.url.starts_with("postgres://") && !test.url.contains("sslmode"),
        "the test needs a URL without sslmode on this host: {}",
        test.url
    );
    let server_offers_tls = {
        let row = test
            .db
            .query_one_raw(Statement::from_string(
                test.db.get_database_backend(),
                "SHOW ssl",
            ))
            .await
            .expect("SHOW ssl")
            .expect("a row");
        row.try_get::<String>("", "ssl").expect("ssl") == "on"
    };

    let db = connect(&test.url, 2).await.expect("connect");
    assert!(!encrypted(&db).await, "loopback without sslmode: plaintext");
    let counters = connect_counters(&test.url, &db)
        .await
        .expect("connect the counters");
    assert!(!encrypted(&counters).await, "the counters' pool follows");

    // A mode the URL names is the user's choice, whatever the host.
    let prefer = connect(&format!("{}?sslmode=prefer", test.url), 2)
        .await
        .expect("connect with prefer");
    assert_eq!(encrypted(&prefer).await, server_offers_tls);
}
