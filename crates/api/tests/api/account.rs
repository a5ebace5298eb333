//! The caller's own account: `PATCH /users/me`, `POST /users/me/password`
//! and `DELETE /users/me`.

use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem, error_fields};

/// A new password that passes every rule.
const NEW_PASSWORD: &str = "a brand new and long passphrase";

fn text<'a>(tokens: &'a Value, field: &str) -> &'a str {
    tokens[field].as_str().expect(field)
}

/// Logs in again, opening a second session, and returns its tokens.
async fn second_session(app: &TestApp, email: &str) -> Value {
    let response = app.login(email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn patch_me(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .patch(app.url("/users/me"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn change_password(
    app: &TestApp,
    token: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/users/me/password"))
        .bearer_auth(token)
        .json(&json!({"current_password": current, "new_password": new}))
        .send()
        .await
        .unwrap()
}

async fn delete_me(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.client
        .delete(app.url("/users/me"))
        .bearer_auth(token)
        .json(&json!({"password": password}))
        .send()
        .await
        .unwrap()
}

/// The display name the server holds now, read back with `GET /users/me`.
async fn stored_display_name(app: &TestApp, token: &str) -> Value {
    let response = app.me(token).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["display_name"].clone()
}

async fn assert_token_dead(app: &TestApp, token: &str) {
    assert_problem(app.me(token).await, 401, "unauthorized").await;
}

async fn assert_refresh_dead(app: &TestApp, refresh_token: &str) {
    assert_problem(
        app.refresh(refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

// --- PATCH /users/me ----------------------------------------------------------

api_test!(the_display_name_is_set_trimmed_and_cleared, |app| {
    let signup = app.signed_up("profile@example.com").await;
    let token = text(&signup, "access_token");
    assert_eq!(signup["user"]["display_name"], Value::Null);

    let response = patch_me(&app, token, &json!({"display_name": "  Ada Lovelace \n"})).await;
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["display_name"], "Ada Lovelace");
    assert_eq!(user["id"], signup["user"]["id"]);
    assert_eq!(user["email"], "profile@example.com");
    assert_eq!(stored_display_name(&app, token).await, "Ada Lovelace");

    // Exactly 100 characters (not bytes) is the longest name.
    let longest = "é".repeat(100);
    let response = patch_me(&app, token, &json!({"display_name": longest})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stored_display_name(&app, token).await, longest.as_str());

    let response = patch_me(&app, token, &json!({"display_name": null})).await;
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["display_name"], Value::Null);
    assert_eq!(stored_display_name(&app, token).await, Value::Null);
});

api_test!(
    invalid_display_names_are_refused_and_change_nothing,
    |app| {
        let signup = app.signed_up("bad-profile@example.com").await;
        let token = text(&signup, "access_token");
        let response = patch_me(&app, token, &json!({"display_name": "Grace"})).await;
        assert_eq!(response.status(), 200);

        for body in [
            json!({"display_name": "x".repeat(101)}),
            json!({"display_name": "   "}),
            json!({"display_name": ""}),
            json!({"display_name": "tab\u{0}stop"}),
            // Blank to the eye, or reordering what is shown after it.
            json!({"display_name": "\u{200b}"}),
            json!({"display_name": "\u{3164}\u{3164}"}),
            json!({"display_name": "Grace\u{feff}"}),
            json!({"display_name": "Grace\u{202e}repooH"}),
            json!({"display_name": "\u{2067}Grace"}),
            json!({"display_name": 42}),
            // The field is required: `null` clears, absence is a mistake.
            json!({}),
            json!({"name": "Grace Hopper"}),
        ] {
            let problem =
                assert_problem(patch_me(&app, token, &body).await, 422, "validation_failed").await;
            assert_eq!(error_fields(&problem), ["display_name"], "{body}");
        }
        assert_eq!(stored_display_name(&app, token).await, "Grace");
        // A joiner inside a name is part of it.
        let response = patch_me(&app, token, &json!({"display_name": "👩\u{200d}💻 Grace"})).await;
        assert_eq!(response.status(), 200);
        assert_eq!(stored_display_name(&app, token).await, "👩\u{200d}💻 Grace");

        let not_json = app
            .client
            .patch(app.url("/users/me"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body("{\"display_name\":")
            .send()
            .await
            .unwrap();
        assert_problem(not_json, 400, "malformed_request").await;

        let anonymous = app
            .client
            .patch(app.url("/users/me"))
            .json(&json!({"display_name": "Nobody"}))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, 401, "unauthorized").await;
    }
);

// --- POST /users/me/password ----------------------------------------------------

api_test!(
    a_wrong_current_password_is_403_and_keeps_the_session,
    |app| {
        let signup = app.signed_up("wrong-current@example.com").await;
        let token = text(&signup, "access_token");

        let response = change_password(&app, token, "not my password at all", NEW_PASSWORD).await;
        assert_problem(response, 403, "wrong_password").await;

        assert_eq!(app.me(token).await.status(), 200);
        let refreshed = app.refresh(text(&signup, "refresh_token")).await;
        assert_eq!(refreshed.status(), 200);
        // The password did not change.
        assert_eq!(
            app.login("wrong-current@example.com", PASSWORD)
                .await
                .status(),
            200
        );
        assert_problem(
            app.login("wrong-current@example.com", NEW_PASSWORD).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
);

api_test!(a_weak_new_password_is_422_naming_new_password, |app| {
    let signup = app.signed_up("weak-new@example.com").await;
    let token = text(&signup, "access_token");

    for weak in [
        "short",
        "password123",
        "weak-new@example.com",
        &"x".repeat(129),
    ] {
        let problem = assert_problem(
            change_password(&app, token, PASSWORD, weak).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["new_password"], "{weak}");
    }
    let missing = app
        .client
        .post(app.url("/users/me/password"))
        .bearer_auth(token)
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(missing, 422, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["new_password"]);

    // Nothing changed, and the session lives on.
    assert_eq!(app.me(token).await.status(), 200);
    assert_eq!(
        app.login("weak-new@example.com", PASSWORD).await.status(),
        200
    );
});

api_test!(a_password_change_revokes_every_other_session, |app| {
    let email = "changer@example.com";
    let first = app.signed_up(email).await;
    let second = second_session(&app, email).await;
    let caller = text(&first, "access_token");
    assert_eq!(app.me(text(&second, "access_token")).await.status(), 200);

    let response = change_password(&app, caller, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());

    // The caller's session lives on: its access token and its refresh token.
    assert_eq!(app.me(caller).await.status(), 200);
    let refreshed = app.refresh(text(&first, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(app.me(text(&refreshed, "access_token")).await.status(), 200);

    // The other session is dead at once, access and refresh token alike.
    assert_token_dead(&app, text(&second, "access_token")).await;
    assert_refresh_dead(&app, text(&second, "refresh_token")).await;

    assert_problem(app.login(email, PASSWORD).await, 401, "invalid_credentials").await;
    let login = app.login(email, NEW_PASSWORD).await;
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["user"]["id"], first["user"]["id"]);
});

// --- DELETE /users/me -----------------------------------------------------------

api_test!(a_wrong_password_does_not_delete_the_account, |app| {
    let signup = app.signed_up("keeper@example.com").await;
    let token = text(&signup, "access_token");

    assert_problem(
        delete_me(&app, token, "not my password at all").await,
        403,
        "wrong_password",
    )
    .await;
    let missing = app
        .client
        .delete(app.url("/users/me"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(missing, 422, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["password"]);

    assert_eq!(app.me(token).await.status(), 200);
    assert_eq!(
        app.refresh(text(&signup, "refresh_token")).await.status(),
        200
    );
    assert_eq!(
        app.login("keeper@example.com", PASSWORD).await.status(),
        200
    );
});

api_test!(
    deleting_the_account_removes_it_its_sessions_and_projects,
    |app| {
        let email = "leaver@example.com";
        let first = app.signed_up(email).await;
        let second = second_session(&app, email).await;
        let token = text(&first, "access_token");
        for name in ["Apollo", "Gemini"] {
            let created = app
                .client
                .post(app.url("/projects"))
                .bearer_auth(token)
                .json(&json!({"name": name}))
                .send()
                .await
                .unwrap();
            assert_eq!(created.status(), 201);
        }
        // Someone else's project is not touched.
        let bystander = app.signed_up("bystander@example.com").await;
        let bystander_token = text(&bystander, "access_token");
        let kept = app
            .client
            .post(app.url("/projects"))
            .bearer_auth(bystander_token)
            .json(&json!({"name": "Apollo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(kept.status(), 201);

        let response = delete_me(&app, token, PASSWORD).await;
        assert_eq!(response.status(), 204);

        for tokens in [&first, &second] {
            assert_token_dead(&app, text(tokens, "access_token")).await;
            assert_refresh_dead(&app, text(tokens, "refresh_token")).await;
        }
        assert_problem(app.login(email, PASSWORD).await, 401, "invalid_credentials").await;

        // The address is free again, and the new account starts empty.
        let again = app.signed_up(email).await;
        assert_ne!(again["user"]["id"], first["user"]["id"]);
        let projects = app
            .client
            .get(app.url("/projects"))
            .bearer_auth(text(&again, "access_token"))
            .send()
            .await
            .unwrap();
        assert_eq!(projects.status(), 200);
        let projects: Value = projects.json().await.unwrap();
        assert_eq!(projects["items"], json!([]));
        assert_eq!(projects["next_cursor"], Value::Null);

        let theirs = app
            .client
            .get(app.url("/projects"))
            .bearer_auth(bystander_token)
            .send()
            .await
            .unwrap();
        let theirs: Value = theirs.json().await.unwrap();
        assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    }
);
