//! The audit log: `GET /admin/audit`, `GET /users/me/audit`, what is
//! recorded, that no secret is, that concurrent failures are each recorded,
//! and the retention purge.

use std::time::Duration;

use auth_infra::sea_orm::entities::audit_event;
use auth_infra::testing::Backend;
use chrono::TimeDelta;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
};
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem, error_fields};
use crate::smtp::{SmtpSink, token_in};

async fn make_admin(app: &TestApp, email: &str) {
    app.db
        .db
        .execute_unprepared(&format!(
            "UPDATE users SET role = 'admin' WHERE email = '{email}'"
        ))
        .await
        .unwrap();
}

/// Signs up `email`, makes them an administrator, logs in again (the role
/// is in the token) and returns the access token.
async fn admin_token(app: &TestApp, email: &str) -> String {
    app.signed_up(email).await;
    make_admin(app, email).await;
    let login: Value = app.login(email, PASSWORD).await.json().await.unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn page(app: &TestApp, token: &str, path: &str) -> Value {
    let response = get(app, Some(token), path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of `path` (which has no query yet), `limit` at a time.
async fn every_page(app: &TestApp, token: &str, path: &str, limit: u32) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{separator}limit={limit}&cursor={c}"),
            None => format!("{path}{separator}limit={limit}"),
        };
        let body = page(app, token, &url).await;
        let got = body["items"].as_array().unwrap();
        assert!(got.len() <= limit as usize);
        items.extend(got.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    items
}

api_test!(admins_read_every_event_newest_first_with_filters, |app| {
    let admin = admin_token(&app, "root@example.com").await;
    let ada = app.signed_up("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.login("ada@example.com", "wrong password!")
            .await
            .status(),
        401
    );
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);

    let all = every_page(&app, &admin, "/admin/audit", 2).await;
    let kinds: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "login_succeeded",
            "login_failed",
            "signup",
            "login_succeeded",
            "signup"
        ]
    );
    let keys = |e: &Value| {
        (
            e["created_at"].as_str().unwrap().to_owned(),
            e["id"].as_str().unwrap().to_owned(),
        )
    };
    let mut sorted = all.clone();
    sorted.sort_by_key(|e| std::cmp::Reverse(keys(e)));
    assert_eq!(all, sorted, "newest first");

    let newest = &all[0];
    assert_eq!(newest["user_id"], ada_id.as_str());
    assert_eq!(newest["actor_id"], ada_id.as_str());
    assert_eq!(newest["ip"], "127.0.0.1");
    assert!(newest["details"]["session_id"].is_string());
    let failed = &all[1];
    assert_eq!(failed["actor_id"], Value::Null);
    assert_eq!(failed["details"]["reason"], "wrong_password");
    assert_eq!(failed["details"]["email"], "ada@example.com");

    let of_ada = every_page(&app, &admin, &format!("/admin/audit?user_id={ada_id}"), 100).await;
    assert_eq!(of_ada.len(), 3);
    assert!(of_ada.iter().all(|e| e["user_id"] == ada_id.as_str()));
    let failures = page(&app, &admin, "/admin/audit?type=login_failed").await;
    assert_eq!(types(&failures), ["login_failed"]);
    let none = page(
        &app,
        &admin,
        &format!("/admin/audit?user_id={ada_id}&type=logout"),
    )
    .await;
    assert_eq!(none["items"], json!([]));
    assert_eq!(none["next_cursor"], Value::Null);
});

api_test!(bad_audit_queries_are_422_naming_the_field, |app| {
    let admin = admin_token(&app, "root@example.com").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=x", "limit"),
        ("cursor=zzz", "cursor"),
        ("user_id=not-a-uuid", "user_id"),
        ("user_id=", "user_id"),
        ("type=", "type"),
        ("type=LOGIN_FAILED", "type"),
        ("type=coffee_break", "type"),
    ] {
        let response = get(&app, Some(&admin), &format!("/admin/audit?{query}")).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    let own = get(&app, Some(&admin), "/users/me/audit?limit=0").await;
    let problem = assert_problem(own, 422, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["limit"]);
});

api_test!(only_admins_read_the_whole_trail, |app| {
    let ada = app.signed_up("ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap();
    assert_problem(get(&app, None, "/admin/audit").await, 401, "unauthorized").await;
    assert_problem(
        get(&app, Some("nonsense"), "/admin/audit").await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        get(&app, Some(token), "/admin/audit").await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        get(&app, None, "/users/me/audit").await,
        401,
        "unauthorized",
    )
    .await;
    let wrong_method = app
        .client
        .post(app.url("/admin/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
});

api_test!(users_read_only_the_events_about_them, |app| {
    let ada = app.signed_up("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_owned();
    let ada_token = ada["access_token"].as_str().unwrap().to_owned();
    let bob = app.signed_up("bob@example.com").await;
    let bob_token = bob["access_token"].as_str().unwrap().to_owned();
    app.login("bob@example.com", "wrong password!").await;
    app.login("ada@example.com", "wrong password!").await;
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(app.logout(&ada_token).await.status(), 204);
    let fresh: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let ada_token = fresh["access_token"].as_str().unwrap();

    let own = every_page(&app, ada_token, "/users/me/audit", 2).await;
    let kinds: Vec<&str> = own.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["login_succeeded", "logout", "login_failed", "signup"]
    );
    assert!(own.iter().all(|e| e["user_id"] == ada_id.as_str()));
    let bobs = page(&app, &bob_token, "/users/me/audit").await;
    assert_eq!(types(&bobs), ["login_failed", "signup"]);
});

api_test!(
    admin_changes_record_the_admin_and_the_fields_changed,
    |app| {
        let admin = admin_token(&app, "root@example.com").await;
        let admin_id = page(&app, &admin, "/users/me").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let ada = app.signed_up("ada@example.com").await;
        let ada_id = ada["user"]["id"].as_str().unwrap().to_owned();
        let change = app
            .client
            .patch(app.url(&format!("/admin/users/{ada_id}")))
            .bearer_auth(&admin)
            .header("user-agent", "admin-console/1.0")
            .json(&json!({"role": "admin", "is_active": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(change.status(), 200);

        let updated = page(&app, &admin, "/admin/audit?type=account_updated").await;
        let event = &updated["items"][0];
        assert_eq!(event["user_id"], ada_id.as_str());
        assert_eq!(event["actor_id"], admin_id.as_str());
        assert_eq!(event["user_agent"], "admin-console/1.0");
        assert_eq!(
            event["details"],
            json!({"role": {"from": "user", "to": "admin"}, "is_active": {"from": true, "to": false}})
        );

        // A request that changes nothing records nothing.
        let same = app
            .client
            .patch(app.url(&format!("/admin/users/{ada_id}")))
            .bearer_auth(&admin)
            .json(&json!({"role": "admin", "is_active": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(same.status(), 200);
        let after = page(&app, &admin, "/admin/audit?type=account_updated").await;
        assert_eq!(after["items"].as_array().unwrap().len(), 1, "{after}");
    }
);

api_test!(deleting_an_account_keeps_its_trail, |app| {
    let admin = admin_token(&app, "root@example.com").await;
    let ada = app.signed_up("ada@example.com").await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_owned();
    let delete = app
        .client
        .delete(app.url("/users/me"))
        .bearer_auth(ada["access_token"].as_str().unwrap())
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    let trail = page(&app, &admin, &format!("/admin/audit?user_id={ada_id}")).await;
    assert_eq!(types(&trail), ["account_deleted", "signup"]);
    assert_eq!(trail["items"][0]["actor_id"], ada_id.as_str());
    assert_eq!(trail["items"][0]["details"]["email"], "ada@example.com");
});

api_test!(
    concurrent_failed_logins_are_each_recorded,
    settings | s | {
        s.rate_limit.login_max_failures = 10;
    },
    |app| {
        let ada = app.signed_up("ada@example.com").await;
        let ada_id = ada["user"]["id"].as_str().unwrap().to_owned();
        let attempts: Vec<_> = (0..25)
            .map(|i| {
                let client = app.client.clone();
                let url = app.url("/auth/login");
                tokio::spawn(async move {
                    client
                        .post(url)
                        .json(&json!({"email": "ada@example.com", "password": format!("wrong password {i}")}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for attempt in attempts {
            statuses.push(attempt.await.unwrap());
        }
        assert!(
            statuses.iter().all(|s| *s == 401 || *s == 429),
            "{statuses:?}"
        );
        let failed = statuses.iter().filter(|s| **s == 401).count();
        assert_eq!(failed, 10, "{statuses:?}");

        let count = |kind: &'static str| {
            let db = app.db.db.clone();
            let ada_id = uuid::Uuid::parse_str(&ada_id).unwrap();
            async move {
                audit_event::Entity::find()
                    .filter(audit_event::Column::EventType.eq(kind))
                    .filter(audit_event::Column::UserId.eq(ada_id))
                    .count(&db)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(count("login_failed").await, 10);
        assert_eq!(count("login_rate_limited").await, 15);
    }
);

api_test!(
    events_past_retention_are_purged,
    settings | s | {
        // This instance's own start-up purge may run late, after the clock
        // has moved: with a long retention it purges nothing here.
        s.audit.retention_days = 3650;
    },
    |app| {
        app.signed_up("old@example.com").await;
        app.clock.advance(TimeDelta::days(31));
        app.signed_up("new@example.com").await;
        let stored = || {
            let db = app.db.db.clone();
            async move { audit_event::Entity::find().count(&db).await.unwrap() }
        };
        assert_eq!(stored().await, 2);

        // The purge runs at start-up, in the background: wait for it, not
        // for time to pass.
        let _next = app.spawn_sharing(|s| s.audit.retention_days = 30).await;
        let mut left = stored().await;
        for _ in 0..100 {
            if left == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            left = stored().await;
        }
        assert_eq!(
            left, 1,
            "the 31-day-old sign-up is purged, the fresh one kept"
        );
    }
);

async fn no_secret_reaches_the_trail(backend: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let Some(app) = TestApp::spawn_with(backend, move |s| {
        s.mail.smtp_url = Some(url.into());
    })
    .await
    else {
        return;
    };
    let mut secrets: Vec<String> = Vec::new();
    fn keep(secrets: &mut Vec<String>, value: &Value) -> String {
        let s = value.as_str().unwrap().to_owned();
        secrets.push(s.clone());
        s
    }
    let admin = admin_token(&app, "root@example.com").await;
    secrets.push(admin.clone());

    let (p1, p2, p3) = (PASSWORD, "second secret phrase", "third secret phrase");
    let wrong = "a wrong secret phrase";
    let ada = app
        .post_json(
            "/auth/signup",
            &json!({"email": "ada@example.com", "password": p1}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let a1 = keep(&mut secrets, &ada["access_token"]);
    keep(&mut secrets, &ada["refresh_token"]);
    let ada_id = ada["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.login("ada@example.com", wrong).await.status(), 401);
    let login: Value = app.login("ada@example.com", p1).await.json().await.unwrap();
    keep(&mut secrets, &login["access_token"]);
    let r2 = keep(&mut secrets, &login["refresh_token"]);
    let refreshed: Value = app.refresh(&r2).await.json().await.unwrap();
    keep(&mut secrets, &refreshed["access_token"]);
    keep(&mut secrets, &refreshed["refresh_token"]);
    app.clock.advance(TimeDelta::seconds(11));
    assert_eq!(app.refresh(&r2).await.status(), 401, "reuse");

    let change = app
        .client
        .post(app.url("/users/me/password"))
        .bearer_auth(&a1)
        .json(&json!({"current_password": p1, "new_password": p2}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 204);
    let request = app
        .client
        .post(app.url("/auth/verify-email/request"))
        .bearer_auth(&a1)
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), 202);
    let verify_token = token_in(&sink.message(1).await);
    secrets.push(verify_token.clone());
    let verified = app
        .post_json("/auth/verify-email", &json!({"token": verify_token}))
        .await;
    assert_eq!(verified.status(), 204);
    let forgot = app
        .post_json(
            "/auth/password/forgot",
            &json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(forgot.status(), 202);
    let reset_token = token_in(&sink.message(2).await);
    secrets.push(reset_token.clone());
    let reset = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": reset_token, "new_password": p3}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    let login: Value = app.login("ada@example.com", p3).await.json().await.unwrap();
    let a4 = keep(&mut secrets, &login["access_token"]);
    keep(&mut secrets, &login["refresh_token"]);
    assert_eq!(app.logout(&a4).await.status(), 204);

    for body in [
        json!({"role": "admin"}),
        json!({"is_active": false}),
        json!({"is_active": true}),
    ] {
        let change = app
            .client
            .patch(app.url(&format!("/admin/users/{ada_id}")))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(change.status(), 200);
    }
    let login: Value = app.login("ada@example.com", p3).await.json().await.unwrap();
    let a5 = keep(&mut secrets, &login["access_token"]);
    keep(&mut secrets, &login["refresh_token"]);
    let delete = app
        .client
        .delete(app.url("/users/me"))
        .bearer_auth(&a5)
        .json(&json!({"password": p3}))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    secrets.extend([p1, p2, p3, wrong].map(str::to_owned));

    let rows = audit_event::Entity::find().all(&app.db.db).await.unwrap();
    let mut kinds: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for expected in [
        "account_deleted",
        "account_updated",
        "email_verified",
        "login_failed",
        "login_succeeded",
        "logout",
        "password_changed",
        "password_reset",
        "password_reset_requested",
        "refresh_reuse_detected",
        "signup",
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected} missing from {kinds:?}"
        );
    }
    for row in &rows {
        let raw = format!("{row:?}");
        for secret in &secrets {
            assert!(!raw.contains(secret.as_str()), "a secret is stored: {raw}");
        }
    }
    // The API serves the same rows.
    let served = every_page(&app, &admin, "/admin/audit", 100).await;
    assert_eq!(served.len(), rows.len());
    let text = serde_json::to_string(&served).unwrap();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_trail_sqlite() {
    no_secret_reaches_the_trail(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_trail_postgres() {
    no_secret_reaches_the_trail(Backend::Postgres).await;
}

api_test!(
    a_failed_audit_write_keeps_the_request_and_is_counted,
    |app| {
        let ada = app.signed_up("ada@example.com").await;
        let token = ada["access_token"].as_str().unwrap().to_owned();
        // The trail's table is gone: what is recorded after the fact fails.
        app.db
            .db
            .execute_unprepared("DROP TABLE audit_events")
            .await
            .unwrap();
        assert_eq!(
            app.login("ada@example.com", "wrong password!")
                .await
                .status(),
            401
        );
        assert_eq!(app.logout(&token).await.status(), 204);
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("audit_write_failures_total 2"),
            "{metrics}"
        );
        // A log-in's own event is stored with its session, in the same write:
        // without the table there is no session either.
        let login = app.login("ada@example.com", PASSWORD).await;
        assert!(login.status().is_server_error(), "{}", login.status());
    }
);

/// Runs `authd` on the app's database with JSON logs, feeding `stdin`.
async fn authd(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let url = app.db.url.clone();
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
        command
            .args(&args)
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG");
        for (key, _) in std::env::vars() {
            if key.starts_with("AUTH__") {
                command.env_remove(key);
            }
        }
        command
            .env("AUTH__DATABASE__URL", url)
            .env("AUTH__LOG__FORMAT", "json")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("run authd");
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(stdin.as_bytes()).expect("write stdin");
        drop(pipe);
        child.wait_with_output().expect("authd output")
    })
    .await
    .unwrap()
}

api_test!(
    operator_commands_are_recorded_without_actor_and_logged,
    |app| {
        let new_password = "an operator's new phrase";
        let mut log = String::new();
        for (args, stdin) in [
            (
                vec!["user", "create", "--email", "ops@example.com"],
                format!("{PASSWORD}\n"),
            ),
            (
                vec![
                    "user",
                    "set-role",
                    "--email",
                    "ops@example.com",
                    "--role",
                    "admin",
                ],
                String::new(),
            ),
            (
                vec!["user", "set-password", "--email", "ops@example.com"],
                format!("{new_password}\n"),
            ),
        ] {
            let output = authd(&app, &args, &stdin).await;
            assert!(output.status.success(), "{output:?}");
            log.push_str(&String::from_utf8_lossy(&output.stdout));
            log.push_str(&String::from_utf8_lossy(&output.stderr));
        }

        let login: Value = app
            .login("ops@example.com", new_password)
            .await
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap();
        let own = page(&app, token, "/users/me/audit").await;
        // The command line reads the system clock, the app the tests' clock:
        // look the events up by type, not by position.
        let mut kinds = types(&own);
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            [
                "account_updated",
                "login_succeeded",
                "password_changed",
                "signup"
            ]
        );
        let of = |kind: &str| {
            own["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["type"] == kind)
                .unwrap()
                .clone()
        };
        for kind in ["signup", "account_updated", "password_changed"] {
            assert_eq!(of(kind)["actor_id"], Value::Null, "{kind}");
            assert_eq!(of(kind)["ip"], Value::Null, "{kind}");
        }
        assert_eq!(of("password_changed")["details"], json!({"by": "operator"}));
        assert_eq!(
            of("account_updated")["details"],
            json!({"role": {"from": "user", "to": "admin"}})
        );
        assert_eq!(of("signup")["details"], json!({"role": "user"}));

        // Each event is also a structured log line under the `audit` target.
        let audit_lines: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(r#""target":"audit""#))
            .collect();
        for kind in ["signup", "account_updated", "password_changed"] {
            assert!(
                audit_lines
                    .iter()
                    .any(|line| line.contains(&format!(r#""event_type":"{kind}""#))),
                "{kind} not logged: {log}"
            );
        }
        assert!(!log.contains(PASSWORD) && !log.contains(new_password));
    }
);
