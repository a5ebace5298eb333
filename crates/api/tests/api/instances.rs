//! Sessions served from memory never outlive a revocation: at once on the
//! instance that made it (both databases), within 100 ms on every other
//! instance sharing a PostgreSQL database.

use std::time::{Duration, Instant};

use auth_infra::testing::Backend;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem};

/// The contract's bound for other instances.
const ACROSS_INSTANCES: Duration = Duration::from_millis(100);

fn token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// Asks `/users/me` until it answers 401, at most `ceiling` long; returns how
/// long that took, or fails.
async fn refused_within(app: &TestApp, token: &str, ceiling: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let status = app.me(token).await.status();
        if status == 401 {
            return start.elapsed();
        }
        assert_eq!(status, 200, "only 200 until the change arrives");
        assert!(
            start.elapsed() < ceiling,
            "still accepted {:?} after the change",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn make_admin(app: &TestApp, email: &str) -> String {
    let tokens = app.signed_up(email).await;
    app.db
        .db
        .execute_unprepared(&format!(
            "UPDATE users SET role = 'admin' WHERE email = '{email}'"
        ))
        .await
        .unwrap();
    token(&tokens)
}

api_test!(a_cached_session_is_refused_at_once_after_logout, |app| {
    let tokens = app.signed_up("cached@example.com").await;
    let access = token(&tokens);
    for _ in 0..3 {
        assert_eq!(app.me(&access).await.status(), 200);
    }
    assert_eq!(app.logout(&access).await.status(), 204);
    assert_problem(app.me(&access).await, 401, "unauthorized").await;
});

api_test!(changes_to_a_cached_user_show_at_once, |app| {
    let admin = make_admin(&app, "boss@example.com").await;
    let tokens = app.signed_up("worker@example.com").await;
    let access = token(&tokens);
    let id = tokens["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.me(&access).await.status(), 200);

    // A profile change shows in the next answer.
    let renamed = app
        .client
        .patch(app.url("/users/me"))
        .bearer_auth(&access)
        .json(&json!({"display_name": "Grace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let me: Value = app.me(&access).await.json().await.unwrap();
    assert_eq!(me["display_name"], "Grace");

    // A promotion too, and a demotion takes the admin routes away at once.
    for (role, status) in [("admin", 200), ("user", 403)] {
        let changed = app
            .client
            .patch(app.url(&format!("/admin/users/{id}")))
            .bearer_auth(&admin)
            .json(&json!({"role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
        let listed = app
            .client
            .get(app.url("/admin/users"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), status, "as {role}");
    }

    // Disabling refuses the cached session at once.
    let disabled = app
        .client
        .patch(app.url(&format!("/admin/users/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert_problem(app.me(&access).await, 401, "unauthorized").await;
});

api_test!(
    a_password_change_refuses_the_other_cached_sessions_at_once,
    |app| {
        let first = token(&app.signed_up("two@example.com").await);
        let second = token(
            &app.login("two@example.com", PASSWORD)
                .await
                .json()
                .await
                .unwrap(),
        );
        assert_eq!(app.me(&second).await.status(), 200);
        let changed = app
            .client
            .post(app.url("/users/me/password"))
            .bearer_auth(&first)
            .json(&json!({"current_password": PASSWORD, "new_password": "another horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 204);
        assert_problem(app.me(&second).await, 401, "unauthorized").await;
        assert_eq!(app.me(&first).await.status(), 200);
    }
);

api_test!(
    with_the_cache_off_every_request_reads_the_database,
    settings | s | {
        s.session_cache.max_age_ms = 0;
    },
    |app| {
        let access = token(&app.signed_up("uncached@example.com").await);
        assert_eq!(app.me(&access).await.status(), 200);
        // Behind the service's back: only a read of the database sees it.
        app.db
            .db
            .execute_unprepared("UPDATE users SET is_active = false")
            .await
            .unwrap();
        assert_problem(app.me(&access).await, 401, "unauthorized").await;
    }
);

/// Two instances on one PostgreSQL database, as behind a load balancer.
async fn two_instances() -> Option<(TestApp, TestApp)> {
    let a = TestApp::spawn(Backend::Postgres).await?;
    let b = a.spawn_sharing(|_| {}).await;
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_logout_on_one_instance_is_refused_on_the_other_within_100_ms() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let access = token(&a.signed_up("roaming@example.com").await);
    // Issued by A, accepted by B (and now cached there).
    for _ in 0..3 {
        assert_eq!(b.me(&access).await.status(), 200);
    }
    assert_eq!(a.logout(&access).await.status(), 204);
    let took = refused_within(&b, &access, ACROSS_INSTANCES).await;
    eprintln!("refused on the other instance after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_disabled_user_is_refused_on_both_instances() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let admin = make_admin(&a, "root@example.com").await;
    let tokens = b.signed_up("suspect@example.com").await;
    let access = token(&tokens);
    let id = tokens["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.me(&access).await.status(), 200);
    assert_eq!(b.me(&access).await.status(), 200);
    let disabled = a
        .client
        .patch(a.url(&format!("/admin/users/{id}")))
        .bearer_auth(&admin)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert_problem(a.me(&access).await, 401, "unauthorized").await;
    refused_within(&b, &access, ACROSS_INSTANCES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_twenty_sessions_revoked_at_once_are_refused_everywhere() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let first = token(&a.signed_up("many@example.com").await);
    let mut others = Vec::new();
    for _ in 0..20 {
        let login: Value = b
            .login("many@example.com", PASSWORD)
            .await
            .json()
            .await
            .unwrap();
        others.push(token(&login));
    }
    let warm = futures_util::future::join_all(others.iter().map(|t| b.me(t))).await;
    assert!(warm.iter().all(|r| r.status() == 200));
    let revoked = a
        .client
        .delete(a.url("/users/me/sessions"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let start = Instant::now();
    for other in &others {
        let left = ACROSS_INSTANCES
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1));
        refused_within(&b, other, left).await;
    }
}
