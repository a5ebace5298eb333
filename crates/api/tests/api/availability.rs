//! When the database goes away: readiness says so, and requests that need
//! it get 503 `service_unavailable` with `Retry-After`, never a 500.

use auth_infra::testing::{Backend, TEST_DATABASE_URL};
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_503_not_500() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |s| {
        s.database.max_connections = 2;
    })
    .await
    else {
        eprintln!("TEST_DATABASE_URL is unset: PostgreSQL-only test not run");
        return;
    };
    let signup = app.signed_up("lost@example.com").await;
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let refresh_token = signup["refresh_token"].as_str().unwrap().to_owned();

    // Drop the application's database from under it.
    let name = app
        .db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let admin_url = std::env::var(TEST_DATABASE_URL).unwrap();
    let admin = auth_infra::sea_orm::connect(&admin_url, 1).await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();

    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "unavailable", "database": "unreachable"})
    );
    let live = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(live.status(), 200, "liveness touches nothing external");

    for response in [
        app.me(&token).await,
        app.refresh(&refresh_token).await,
        app.login("lost@example.com", PASSWORD).await,
        app.signup("new@example.com", PASSWORD).await,
    ] {
        assert!(response.headers().get("retry-after").is_some());
        assert_problem(response, 503, "service_unavailable").await;
    }
}
