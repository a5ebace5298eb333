//! `/projects`: CRUD, validation, ownership, pagination and name races.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{TestApp, assert_problem, error_fields};

/// Signs up `email` and returns its access token.
async fn token(app: &TestApp, email: &str) -> String {
    app.signed_up(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/projects"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Creates a project and returns it.
async fn created(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = create(app, token, body).await;
    assert_eq!(response.status(), 201, "{body}");
    response.json().await.unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn patch(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/projects/{id}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/projects/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn id_of(project: &Value) -> String {
    project["id"].as_str().unwrap().to_owned()
}

api_test!(create_returns_201_with_location_and_a_trimmed_name, |app| {
    let signup = app.signed_up("owner@example.com").await;
    let token = signup["access_token"].as_str().unwrap();
    let response = create(
        &app,
        token,
        &json!({"name": "  Apollo \t", "description": "To the moon"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let project: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/projects/{}", id_of(&project)));
    assert_eq!(project["name"], "Apollo");
    assert_eq!(project["description"], "To the moon");
    assert_eq!(project["owner_id"], signup["user"]["id"]);
    assert_eq!(project["created_at"], project["updated_at"]);
    let mut fields: Vec<&str> = project
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
            "description",
            "id",
            "name",
            "owner_id",
            "updated_at"
        ]
    );

    let fetched = get(&app, token, &location).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.json::<Value>().await.unwrap(), project);

    let bare = created(&app, token, &json!({"name": "Gemini"})).await;
    assert_eq!(bare["description"], Value::Null);
});

api_test!(patch_changes_only_what_is_sent, |app| {
    let token = token(&app, "owner@example.com").await;
    let project = created(
        &app,
        &token,
        &json!({"name": "Apollo", "description": "To the moon"}),
    )
    .await;
    let id = id_of(&project);

    let renamed = patch(&app, &token, &id, &json!({"name": " Artemis "})).await;
    assert_eq!(renamed.status(), 200);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(renamed["name"], "Artemis");
    assert_eq!(renamed["description"], "To the moon");
    assert_eq!(renamed["created_at"], project["created_at"]);
    assert_eq!(renamed["id"], project["id"]);
    assert_eq!(renamed["owner_id"], project["owner_id"]);
    assert!(
        renamed["updated_at"].as_str().unwrap() >= project["updated_at"].as_str().unwrap(),
        "{renamed}"
    );

    let redescribed = patch(&app, &token, &id, &json!({"description": "Back again"})).await;
    assert_eq!(redescribed.status(), 200);
    let redescribed: Value = redescribed.json().await.unwrap();
    assert_eq!(redescribed["name"], "Artemis");
    assert_eq!(redescribed["description"], "Back again");

    // An empty patch changes nothing but is fine.
    let unchanged = patch(&app, &token, &id, &json!({})).await;
    assert_eq!(unchanged.status(), 200);
    let unchanged: Value = unchanged.json().await.unwrap();
    assert_eq!(unchanged["name"], "Artemis");
    assert_eq!(unchanged["description"], "Back again");

    // `null` clears the description.
    let cleared = patch(&app, &token, &id, &json!({"description": null})).await;
    assert_eq!(cleared.status(), 200);
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["name"], "Artemis");

    let stored: Value = get(&app, &token, &format!("/projects/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored, cleared);
});

api_test!(a_null_name_is_refused_and_changes_nothing, |app| {
    let token = token(&app, "owner@example.com").await;
    let project = created(
        &app,
        &token,
        &json!({"name": "Apollo", "description": "To the moon"}),
    )
    .await;
    let id = id_of(&project);
    let problem = assert_problem(
        patch(
            &app,
            &token,
            &id,
            &json!({"name": null, "description": "changed"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name"]);
    let stored: Value = get(&app, &token, &format!("/projects/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored, project, "nothing was applied");
});

api_test!(invalid_names_and_descriptions_are_refused, |app| {
    let token = token(&app, "owner@example.com").await;
    let long_name = "n".repeat(101);
    let long_description = "d".repeat(2001);
    for (body, field) in [
        (json!({"name": long_name}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   \t "}), "name"),
        (json!({"name": "bad\u{0007}name"}), "name"),
        (json!({"name": 42}), "name"),
        (json!({}), "name"),
        (
            json!({"name": "ok", "description": long_description}),
            "description",
        ),
    ] {
        let problem =
            assert_problem(create(&app, &token, &body).await, 422, "validation_failed").await;
        assert!(
            error_fields(&problem).contains(&field.to_owned()),
            "{body}: {problem}"
        );
    }
    // Both fields at once are both reported.
    let problem = assert_problem(
        create(
            &app,
            &token,
            &json!({"name": " ", "description": long_description}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort_unstable();
    assert_eq!(fields, ["description", "name"]);

    // The limits themselves are accepted (characters, not bytes).
    let at_limit = created(
        &app,
        &token,
        &json!({"name": "é".repeat(100), "description": "ü".repeat(2000)}),
    )
    .await;
    assert_eq!(at_limit["name"].as_str().unwrap().chars().count(), 100);

    // The same rules on PATCH.
    let id = id_of(&created(&app, &token, &json!({"name": "Apollo"})).await);
    for (body, field) in [
        (json!({"name": long_name}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"description": long_description}), "description"),
    ] {
        let problem = assert_problem(
            patch(&app, &token, &id, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    // No project was created by the refused requests.
    let list: Value = get(&app, &token, "/projects").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
});

api_test!(names_are_unique_per_owner_case_insensitively, |app| {
    let token = token(&app, "owner@example.com").await;
    let apollo = created(&app, &token, &json!({"name": "Apollo"})).await;
    for name in ["apollo", "APOLLO", "  Apollo  "] {
        assert_problem(
            create(&app, &token, &json!({"name": name})).await,
            409,
            "project_name_taken",
        )
        .await;
    }
    // Renaming another project onto it is refused too, and changes nothing.
    let gemini = created(&app, &token, &json!({"name": "Gemini"})).await;
    assert_problem(
        patch(&app, &token, &id_of(&gemini), &json!({"name": "aPoLlO"})).await,
        409,
        "project_name_taken",
    )
    .await;
    let stored: Value = get(&app, &token, &format!("/projects/{}", id_of(&gemini)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored, gemini);

    // A project may change the case of its own name.
    let recased = patch(&app, &token, &id_of(&apollo), &json!({"name": "APOLLO"})).await;
    assert_eq!(recased.status(), 200);
    assert_eq!(recased.json::<Value>().await.unwrap()["name"], "APOLLO");

    // Another user may use the same name.
    let other = token_of_other(&app).await;
    created(&app, &other, &json!({"name": "apollo"})).await;

    // Once deleted, the name is free again.
    assert_eq!(delete(&app, &token, &id_of(&apollo)).await.status(), 204);
    created(&app, &token, &json!({"name": "Apollo"})).await;
});

async fn token_of_other(app: &TestApp) -> String {
    token(app, "other@example.com").await
}

api_test!(delete_removes_the_project, |app| {
    let token = token(&app, "owner@example.com").await;
    let id = id_of(&created(&app, &token, &json!({"name": "Apollo"})).await);
    let response = delete(&app, &token, &id).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_problem(
        get(&app, &token, &format!("/projects/{id}")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(delete(&app, &token, &id).await, 404, "not_found").await;
    assert_problem(
        patch(&app, &token, &id, &json!({"name": "x"})).await,
        404,
        "not_found",
    )
    .await;
});

api_test!(another_users_project_is_not_found, |app| {
    let owner = token(&app, "owner@example.com").await;
    let intruder = token(&app, "intruder@example.com").await;
    let project = created(
        &app,
        &owner,
        &json!({"name": "Apollo", "description": "secret"}),
    )
    .await;
    let id = id_of(&project);
    let path = format!("/projects/{id}");

    let own_missing = assert_problem(
        get(
            &app,
            &intruder,
            &format!("/projects/{}", uuid::Uuid::now_v7()),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let foreign = assert_problem(get(&app, &intruder, &path).await, 404, "not_found").await;
    assert_eq!(
        foreign["detail"], own_missing["detail"],
        "indistinguishable"
    );
    assert_problem(
        patch(
            &app,
            &intruder,
            &id,
            &json!({"name": "Stolen", "description": null}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(delete(&app, &intruder, &id).await, 404, "not_found").await;

    // Still there, unchanged, for its owner; absent from the intruder's list.
    let stored = get(&app, &owner, &path).await;
    assert_eq!(stored.status(), 200);
    assert_eq!(stored.json::<Value>().await.unwrap(), project);
    let list: Value = get(&app, &intruder, "/projects")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    assert_eq!(list["next_cursor"], Value::Null);
});

api_test!(malformed_ids_are_not_found, |app| {
    let token = token(&app, "owner@example.com").await;
    for id in ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"] {
        assert_problem(
            get(&app, &token, &format!("/projects/{id}")).await,
            404,
            "not_found",
        )
        .await;
        assert_problem(
            patch(&app, &token, id, &json!({"name": "x"})).await,
            404,
            "not_found",
        )
        .await;
        assert_problem(delete(&app, &token, id).await, 404, "not_found").await;
    }
});

api_test!(projects_need_a_token, |app| {
    let response = app.client.get(app.url("/projects")).send().await.unwrap();
    assert_problem(response, 401, "unauthorized").await;
    let response = app
        .client
        .post(app.url("/projects"))
        .json(&json!({"name": "Apollo"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthorized").await;
});

api_test!(pages_cover_every_project_once_newest_first, |app| {
    let token = token(&app, "owner@example.com").await;
    let other = token_of_other(&app).await;
    created(&app, &other, &json!({"name": "not mine"})).await;
    let mut ids = Vec::new();
    for i in 0..45 {
        ids.push(id_of(
            &created(&app, &token, &json!({"name": format!("Project {i:02}")})).await,
        ));
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let mut seen: Vec<String> = Vec::new();
    let mut created_at: Vec<String> = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/projects?limit=20".to_owned(),
            Some(cursor) => format!("/projects?limit=20&cursor={cursor}"),
        };
        let response = get(&app, &token, &path).await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        for item in items {
            seen.push(id_of(item));
            created_at.push(item["created_at"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert_eq!(page["next_cursor"], Value::Null);
                break;
            }
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, [20, 20, 5]);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        45,
        "no duplicates"
    );
    assert_eq!(seen, newest_first, "no gaps, newest first");
    let mut sorted = created_at.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(created_at, sorted, "created_at never increases");

    // Without `limit` the page holds 20.
    let page: Value = get(&app, &token, "/projects").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert!(page["next_cursor"].is_string());

    // Exactly one page's worth leaves no next cursor.
    let page: Value = get(&app, &token, "/projects?limit=45")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 45);
    assert_eq!(page["next_cursor"], Value::Null);
});

api_test!(a_deleted_item_does_not_break_the_next_page, |app| {
    let token = token(&app, "owner@example.com").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(id_of(
            &created(&app, &token, &json!({"name": format!("P{i}")})).await,
        ));
    }
    let first: Value = get(&app, &token, "/projects?limit=2")
        .await
        .json()
        .await
        .unwrap();
    let first_ids: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(first_ids, [ids[4].clone(), ids[3].clone()]);
    // The cursor's own item goes away; the next page still starts after it.
    assert_eq!(delete(&app, &token, &ids[3]).await.status(), 204);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = get(&app, &token, &format!("/projects?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let second_ids: Vec<String> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(second_ids, [ids[2].clone(), ids[1].clone()]);
});

api_test!(bad_limit_or_cursor_is_422_naming_the_parameter, |app| {
    let token = token(&app, "owner@example.com").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-5", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=%21%21%21", "cursor"),
        ("limit=10&cursor=bm90LWEtY3Vyc29y", "cursor"),
    ] {
        let problem = assert_problem(
            get(&app, &token, &format!("/projects?{query}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
    // Well-formed cursors at instants no row can have: PostgreSQL cannot
    // store the first (a 500 once), SQLite mis-ordered the second.
    for micros in [-377_000_000_000_000_000_i64, 253_402_300_800_000_000] {
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{micros}:{}", uuid::Uuid::nil().simple()));
        let problem = assert_problem(
            get(&app, &token, &format!("/projects?cursor={cursor}")).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["cursor"], "{micros}");
    }
    let problem = assert_problem(
        get(&app, &token, "/projects?limit=0&cursor=zzz").await,
        422,
        "validation_failed",
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort_unstable();
    assert_eq!(fields, ["cursor", "limit"]);
    // The bounds themselves are fine.
    for query in ["limit=1", "limit=100"] {
        let response = get(&app, &token, &format!("/projects?{query}")).await;
        assert_eq!(response.status(), 200, "{query}");
    }
});

api_test!(concurrent_creates_of_one_name_yield_one_project, |app| {
    let token = token(&app, "owner@example.com").await;
    let app = Arc::new(app);
    let attempts = (0..50).map(|i| {
        let app = app.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let name = if i % 2 == 0 { "Race" } else { "RACE" };
            let response = create(&app, &token, &json!({"name": name})).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        })
    });
    let mut created_count = 0;
    for result in futures_util::future::join_all(attempts).await {
        let (status, body) = result.unwrap();
        match status {
            201 => created_count += 1,
            409 => assert_eq!(body["code"], "project_name_taken", "{body}"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(created_count, 1);
    let list: Value = get(&app, &token, "/projects").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
});

api_test!(
    a_nul_in_a_description_is_refused_not_a_server_error,
    |app| {
        // PostgreSQL cannot store a NUL in text: it must be a 422 on every
        // backend, never a 500 on one of them.
        let token = token(&app, "nul@example.com").await;
        let problem = assert_problem(
            create(
                &app,
                &token,
                &json!({"name": "Nul", "description": "a\u{0}b"}),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["description"]);
        let id = id_of(
            &created(
                &app,
                &token,
                &json!({"name": "Lines", "description": "one\n\ttwo"}),
            )
            .await,
        );
        let problem = assert_problem(
            patch(&app, &token, &id, &json!({"description": "\u{0}"})).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["description"]);
        let project: Value = get(&app, &token, &format!("/projects/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(project["description"], "one\n\ttwo");
    }
);
