//! `/admin/users` and the `authd user` commands: access control, the
//! last-admin rule, and disabling an account taking effect at once.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem, error_fields};

/// Makes the user with this (lower-case) address an administrator, straight
/// in the database.
async fn make_admin(app: &TestApp, email: &str) {
    app.db
        .db
        .execute_unprepared(&format!(
            "UPDATE users SET role = 'admin' WHERE email = '{email}'"
        ))
        .await
        .unwrap();
}

/// Signs up `email` and returns the token response.
async fn user(app: &TestApp, email: &str) -> (String, Value) {
    let signup = app.signed_up(email).await;
    let token = signup["access_token"].as_str().unwrap().to_owned();
    (token, signup)
}

/// Signs up `email`, makes them an administrator, and returns their token
/// and id.
async fn admin(app: &TestApp, email: &str) -> (String, String) {
    let (token, signup) = user(app, email).await;
    make_admin(app, email).await;
    (token, signup["user"]["id"].as_str().unwrap().to_owned())
}

fn id_of(signup: &Value) -> String {
    signup["user"]["id"].as_str().unwrap().to_owned()
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn patch_user(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/admin/users/{id}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `PATCH /admin/users/{id}` that must succeed; returns the user.
async fn patched(app: &TestApp, token: &str, id: &str, body: &Value) -> Value {
    let response = patch_user(app, token, id, body).await;
    assert_eq!(response.status(), 200, "{body}");
    response.json().await.unwrap()
}

/// The e-mail addresses of a user list, in order.
fn emails(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let response = get(app, token, &format!("/admin/users{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

/// Runs `authd` on the test app's database, feeding `stdin` to it.
async fn authd(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let url = app.db.url.clone();
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
        command.args(&args).env_remove("DATABASE_URL");
        for (key, _) in std::env::vars() {
            if key.starts_with("AUTH__") {
                command.env_remove(key);
            }
        }
        command
            .env("AUTH__DATABASE__URL", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("run authd");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).expect("write stdin");
        }
        drop(pipe);
        child.wait_with_output().expect("authd output")
    })
    .await
    .unwrap()
}

api_test!(an_admin_lists_and_reads_users, |app| {
    let (admin_token, admin_id) = admin(&app, "root@example.com").await;
    let (_, first) = user(&app, "first@example.com").await;
    let (_, second) = user(&app, "second@example.com").await;

    let page = list(&app, &admin_token, "").await;
    assert_eq!(
        emails(&page),
        [
            "second@example.com",
            "first@example.com",
            "root@example.com"
        ],
        "newest first"
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let listed = &page["items"][0];
    assert_eq!(listed["id"], second["user"]["id"]);
    assert_eq!(listed["is_active"], true);
    assert_eq!(listed["role"], "user");
    let mut fields: Vec<&str> = listed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "display_name",
            "email",
            "email_verified",
            "id",
            "is_active",
            "mfa_enabled",
            "role",
            "updated_at"
        ]
    );
    assert_eq!(page["items"][2]["role"], "admin");
    assert_eq!(page["items"][2]["id"], admin_id.as_str());

    let one = get(
        &app,
        &admin_token,
        &format!("/admin/users/{}", id_of(&first)),
    )
    .await;
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    assert_eq!(one["email"], "first@example.com");
    assert_eq!(one["is_active"], true);
    for (key, value) in first["user"].as_object().unwrap() {
        assert_eq!(&one[key], value, "{key}");
    }

    // Pagination works as on /projects.
    let page = list(&app, &admin_token, "?limit=2").await;
    assert_eq!(emails(&page).len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = list(&app, &admin_token, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(emails(&rest), ["root@example.com"]);
    assert_eq!(rest["next_cursor"], Value::Null);
    for (query, field) in [("?limit=0", "limit"), ("?cursor=zzz", "cursor")] {
        let problem = assert_problem(
            get(&app, &admin_token, &format!("/admin/users{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field]);
    }
});

api_test!(the_email_filter_is_a_case_insensitive_prefix, |app| {
    let (admin_token, _) = admin(&app, "root@example.com").await;
    for email in [
        "alice@example.com",
        "alan@example.com",
        "bob@example.com",
        "xalice@example.com",
    ] {
        user(&app, email).await;
    }
    let mut found = emails(&list(&app, &admin_token, "?email=AL").await);
    found.sort_unstable();
    assert_eq!(found, ["alan@example.com", "alice@example.com"]);
    assert_eq!(
        emails(&list(&app, &admin_token, "?email=%20Alice%40Ex").await),
        ["alice@example.com"],
        "trimmed"
    );
    assert!(emails(&list(&app, &admin_token, "?email=nobody").await).is_empty());
    // LIKE wildcards are literal characters.
    assert!(emails(&list(&app, &admin_token, "?email=a%25").await).is_empty());
    assert!(emails(&list(&app, &admin_token, "?email=a_ice").await).is_empty());
    // A blank filter is no filter.
    assert_eq!(emails(&list(&app, &admin_token, "?email=").await).len(), 5);
    assert_eq!(
        emails(&list(&app, &admin_token, "?email=%20").await).len(),
        5
    );
    // The filter combines with pagination.
    let page = list(&app, &admin_token, "?email=al&limit=1").await;
    assert_eq!(emails(&page), ["alan@example.com"]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = list(
        &app,
        &admin_token,
        &format!("?email=al&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(emails(&rest), ["alice@example.com"]);
    assert_eq!(rest["next_cursor"], Value::Null);
});

api_test!(non_admins_are_forbidden, |app| {
    let (_, admin_id) = admin(&app, "root@example.com").await;
    let (token, _) = user(&app, "user@example.com").await;
    assert_problem(get(&app, &token, "/admin/users").await, 403, "forbidden").await;
    assert_problem(
        get(&app, &token, &format!("/admin/users/{admin_id}")).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        patch_user(&app, &token, &admin_id, &json!({"is_active": false})).await,
        403,
        "forbidden",
    )
    .await;
    // A user cannot promote themselves either.
    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_problem(
        patch_user(
            &app,
            &token,
            me["id"].as_str().unwrap(),
            &json!({"role": "admin"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["role"], "user");
    // Without a token it is 401, not 403.
    let response = app
        .client
        .get(app.url("/admin/users"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthorized").await;
});

api_test!(unknown_users_and_invalid_changes, |app| {
    let (admin_token, _) = admin(&app, "root@example.com").await;
    let (_, target) = user(&app, "user@example.com").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_problem(
        get(&app, &admin_token, &format!("/admin/users/{unknown}")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        get(&app, &admin_token, "/admin/users/not-a-uuid").await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        patch_user(&app, &admin_token, &unknown, &json!({"is_active": false})).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        patch_user(&app, &admin_token, "not-a-uuid", &json!({"role": "user"})).await,
        404,
        "not_found",
    )
    .await;
    for body in [
        json!({"role": "superuser"}),
        json!({"role": "Admin"}),
        json!({"role": ""}),
        json!({"role": 1}),
    ] {
        let problem = assert_problem(
            patch_user(&app, &admin_token, &id_of(&target), &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["role"], "{body}");
    }
    let problem = assert_problem(
        patch_user(
            &app,
            &admin_token,
            &id_of(&target),
            &json!({"is_active": "no"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["is_active"]);

    // Nothing changed; a valid promotion then works.
    let unchanged: Value = get(
        &app,
        &admin_token,
        &format!("/admin/users/{}", id_of(&target)),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(unchanged["role"], "user");
    assert_eq!(unchanged["is_active"], true);
    let promoted = patched(
        &app,
        &admin_token,
        &id_of(&target),
        &json!({"role": "admin"}),
    )
    .await;
    assert_eq!(promoted["role"], "admin");
    assert_eq!(promoted["is_active"], true);
});

api_test!(disabling_a_user_takes_effect_at_once, |app| {
    let (admin_token, _) = admin(&app, "root@example.com").await;
    let (token, signup) = user(&app, "victim@example.com").await;
    let id = id_of(&signup);
    let refresh_token = signup["refresh_token"].as_str().unwrap().to_owned();
    // A second session from a login.
    let login: Value = app
        .login("victim@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let second_token = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.me(&token).await.status(), 200);

    let disabled = patched(&app, &admin_token, &id, &json!({"is_active": false})).await;
    assert_eq!(disabled["is_active"], false);
    assert_eq!(disabled["role"], "user");

    for live in [&token, &second_token] {
        assert_problem(app.me(live).await, 401, "unauthorized").await;
    }
    let projects = app
        .client
        .get(app.url("/projects"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(projects, 401, "unauthorized").await;
    assert_problem(
        app.refresh(&refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // Only the right password learns that the account is disabled.
    assert_problem(
        app.login("victim@example.com", PASSWORD).await,
        403,
        "account_disabled",
    )
    .await;
    assert_problem(
        app.login("victim@example.com", "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let shown: Value = get(&app, &admin_token, &format!("/admin/users/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["is_active"], false);

    // Re-enabling lets them log in again, but revives no old session.
    let enabled = patched(&app, &admin_token, &id, &json!({"is_active": true})).await;
    assert_eq!(enabled["is_active"], true);
    let login = app.login("victim@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    assert_eq!(
        app.me(login["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_problem(app.me(&token).await, 401, "unauthorized").await;
    assert_problem(
        app.refresh(&refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
});

api_test!(a_demoted_admin_loses_access_at_once, |app| {
    let (first_token, _) = admin(&app, "first@example.com").await;
    let (second_token, second_id) = admin(&app, "second@example.com").await;
    assert_eq!(get(&app, &second_token, "/admin/users").await.status(), 200);

    let demoted = patched(&app, &first_token, &second_id, &json!({"role": "user"})).await;
    assert_eq!(demoted["role"], "user");
    assert_eq!(demoted["is_active"], true);

    assert_problem(
        get(&app, &second_token, "/admin/users").await,
        403,
        "forbidden",
    )
    .await;
    // Demotion does not sign them out.
    let me = app.me(&second_token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.unwrap()["role"], "user");
});

api_test!(
    the_last_active_admin_cannot_demote_or_disable_themselves,
    |app| {
        let (token, id) = admin(&app, "root@example.com").await;
        for body in [
            json!({"role": "user"}),
            json!({"is_active": false}),
            json!({"role": "user", "is_active": false}),
        ] {
            assert_problem(
                patch_user(&app, &token, &id, &body).await,
                409,
                "last_admin",
            )
            .await;
        }
        // Still an active admin; a no-op change is fine.
        let same = patched(
            &app,
            &token,
            &id,
            &json!({"role": "admin", "is_active": true}),
        )
        .await;
        assert_eq!(same["role"], "admin");
        assert_eq!(get(&app, &token, "/admin/users").await.status(), 200);

        // A disabled admin is no active admin.
        let (_, other_id) = admin(&app, "other@example.com").await;
        patched(&app, &token, &other_id, &json!({"is_active": false})).await;
        assert_problem(
            patch_user(&app, &token, &id, &json!({"role": "user"})).await,
            409,
            "last_admin",
        )
        .await;

        // With a second active admin, stepping down works.
        patched(&app, &token, &other_id, &json!({"is_active": true})).await;
        let stepped_down = patched(&app, &token, &id, &json!({"role": "user"})).await;
        assert_eq!(stepped_down["role"], "user");
        assert_problem(get(&app, &token, "/admin/users").await, 403, "forbidden").await;
    }
);

api_test!(the_cli_creates_an_admin_who_can_log_in, |app| {
    let output = authd(
        &app,
        &["user", "create", "--email", "Boss@Example.com", "--admin"],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    assert!(output.status.success(), "{output:?}");

    let login = app.login("boss@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["user"]["role"], "admin");
    assert_eq!(login["user"]["email"], "boss@example.com");
    let token = login["access_token"].as_str().unwrap();
    let page = list(&app, token, "").await;
    assert_eq!(emails(&page), ["boss@example.com"]);

    // Without --admin the user is an ordinary one; the address is unique.
    let output = authd(
        &app,
        &["user", "create", "--email", "plain@example.com"],
        Some(PASSWORD),
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let plain: Value = app
        .login("plain@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["user"]["role"], "user");
    let output = authd(
        &app,
        &["user", "create", "--email", "BOSS@example.com"],
        Some(PASSWORD),
    )
    .await;
    assert!(!output.status.success(), "{output:?}");
});

api_test!(
    the_cli_promotes_a_signed_up_user,
    settings | s | {
        // A change made with the command line reaches a running server
        // within the cache's maximum age on SQLite (at once, by NOTIFY, on
        // PostgreSQL).
        s.session_cache.max_age_ms = 100;
    },
    |app| {
        let (token, _) = user(&app, "climber@example.com").await;
        assert_problem(get(&app, &token, "/admin/users").await, 403, "forbidden").await;

        let output = authd(
            &app,
            &[
                "user",
                "set-role",
                "--email",
                "Climber@example.com",
                "--role",
                "admin",
            ],
            None,
        )
        .await;
        assert!(output.status.success(), "{output:?}");
        // The token issued before the promotion now reaches /admin, within the
        // cache's maximum age.
        let promoted = std::time::Instant::now();
        while get(&app, &token, "/admin/users").await.status() != 200 {
            assert!(
                promoted.elapsed() < std::time::Duration::from_secs(2),
                "the promotion never reached the server"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }

        // An unknown address, or demoting the last admin, fails.
        let output = authd(
            &app,
            &[
                "user",
                "set-role",
                "--email",
                "nobody@example.com",
                "--role",
                "admin",
            ],
            None,
        )
        .await;
        assert!(!output.status.success(), "{output:?}");
        let output = authd(
            &app,
            &[
                "user",
                "set-role",
                "--email",
                "climber@example.com",
                "--role",
                "user",
            ],
            None,
        )
        .await;
        assert!(!output.status.success(), "{output:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("administrator"),
            "{output:?}"
        );
        assert_eq!(get(&app, &token, "/admin/users").await.status(), 200);
    }
);

api_test!(the_cli_refuses_a_weak_password_and_creates_nothing, |app| {
    for password in ["short", "password", "weak@example.com", ""] {
        let output = authd(
            &app,
            &["user", "create", "--email", "weak@example.com", "--admin"],
            Some(&format!("{password}\n")),
        )
        .await;
        assert!(!output.status.success(), "{password}: {output:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("password"),
            "{output:?}"
        );
    }
    assert_problem(
        app.login("weak@example.com", "short").await,
        401,
        "invalid_credentials",
    )
    .await;
    // The address is still free.
    let signup = app.signed_up("weak@example.com").await;
    assert_eq!(signup["user"]["role"], "user");
});

api_test!(
    concurrent_demotions_of_the_last_two_admins_keep_one,
    |app| {
        let (a_token, a_id) = admin(&app, "a@example.com").await;
        let (b_token, b_id) = admin(&app, "b@example.com").await;
        let demote = json!({"role": "user"});
        for round in 0..10 {
            app.db
                .db
                .execute_unprepared("UPDATE users SET role = 'admin', is_active = true")
                .await
                .unwrap();
            // Each demotes the other at the same time: one must lose.
            let (a_demotes_b, b_demotes_a) = tokio::join!(
                patch_user(&app, &a_token, &b_id, &demote),
                patch_user(&app, &b_token, &a_id, &demote),
            );
            let mut statuses = [a_demotes_b.status().as_u16(), b_demotes_a.status().as_u16()];
            statuses.sort_unstable();
            // The loser is refused as the last admin, or, when it was demoted
            // before its request was authorised, as no admin at all.
            assert!(
                statuses == [200, 409] || statuses == [200, 403],
                "round {round}: {statuses:?}"
            );
            let mut active_admins = 0;
            for token in [&a_token, &b_token] {
                let me: Value = app.me(token).await.json().await.unwrap();
                if me["role"] == "admin" {
                    active_admins += 1;
                }
            }
            assert_eq!(active_admins, 1, "round {round}");
        }
    }
);

api_test!(
    control_characters_in_the_email_filter_match_nothing,
    |app| {
        // No address holds one, and PostgreSQL refuses a NUL in a query: an
        // empty page, never a 500.
        let (admin_token, _) = admin(&app, "root@example.com").await;
        user(&app, "alice@example.com").await;
        for query in ["?email=%00", "?email=al%00", "?email=al%01ice"] {
            let page = list(&app, &admin_token, query).await;
            assert!(emails(&page).is_empty(), "{query}: {page}");
            assert_eq!(page["next_cursor"], Value::Null);
        }
    }
);

api_test!(the_cli_disables_enables_and_sets_passwords, |app| {
    let signup = app.signed_up("operated@example.com").await;
    let token = signup["access_token"].as_str().unwrap().to_owned();

    let output = authd(
        &app,
        &["user", "disable", "--email", "Operated@example.com"],
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_problem(app.me(&token).await, 401, "unauthorized").await;
    assert_problem(
        app.login("operated@example.com", PASSWORD).await,
        403,
        "account_disabled",
    )
    .await;

    let output = authd(
        &app,
        &["user", "enable", "--email", "operated@example.com"],
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let login: Value = app
        .login("operated@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let live = login["access_token"].as_str().unwrap().to_owned();

    let output = authd(
        &app,
        &["user", "set-password", "--email", "operated@example.com"],
        Some("a password set by the operator\n"),
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    // Every session ends, the old password with them.
    assert_problem(app.me(&live).await, 401, "unauthorized").await;
    assert_problem(
        app.login("operated@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login("operated@example.com", "a password set by the operator")
            .await
            .status(),
        200
    );

    // Unknown addresses and weak passwords are refused with a message.
    for (args, stdin) in [
        (
            vec!["user", "disable", "--email", "ghost@example.com"],
            None,
        ),
        (
            vec!["user", "set-password", "--email", "operated@example.com"],
            Some("password\n"),
        ),
    ] {
        let output = authd(&app, &args, stdin).await;
        assert!(!output.status.success(), "{output:?}");
        assert!(!output.stderr.is_empty());
    }
});
