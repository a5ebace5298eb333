//! Sessions: refresh-token rotation and reuse detection, logout, listing and
//! revoking sessions.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem, error_fields, jwt_claims};

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` missing from {body}"))
}

fn sid(token_response: &Value) -> String {
    jwt_claims(text(token_response, "access_token"))["sid"]
        .as_str()
        .expect("sid claim")
        .to_owned()
}

/// A refresh that must succeed; returns the token response.
async fn refreshed(app: &TestApp, refresh_token: &str) -> Value {
    let response = app.refresh(refresh_token).await;
    assert_eq!(response.status(), 200, "refresh refused");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["expires_in"], 900, "{body}");
    assert!(
        body.get("user").is_none(),
        "refresh returns no user: {body}"
    );
    body
}

async fn assert_token_dead(app: &TestApp, access_token: &str) {
    let response = app.me(access_token).await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert_problem(response, 401, "unauthorized").await;
}

async fn assert_refresh_dead(app: &TestApp, refresh_token: &str) {
    assert_problem(
        app.refresh(refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

async fn login_with_agent(app: &TestApp, email: &str, user_agent: &str) -> Value {
    let response = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", user_agent)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

async fn list_sessions(app: &TestApp, access_token: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/users/me/sessions"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("json");
    let fields: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["items"], "{body}");
    body["items"].as_array().expect("items").clone()
}

async fn delete_session(app: &TestApp, access_token: &str, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/users/me/sessions/{id}")))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("request")
}

async fn delete_all_sessions(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.client
        .delete(app.url("/users/me/sessions"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("request")
}

api_test!(refresh_rotates_and_logout_ends_the_session, |app| {
    let signup = app.signed_up("cycle@example.com").await;
    let session = sid(&signup);
    let first_refresh = text(&signup, "refresh_token");

    let rotated = refreshed(&app, first_refresh).await;
    let second_refresh = text(&rotated, "refresh_token");
    assert_ne!(second_refresh, first_refresh, "the refresh token rotates");
    assert_ne!(rotated["access_token"], signup["access_token"]);
    assert_eq!(sid(&rotated), session, "same session");
    assert_eq!(
        jwt_claims(text(&rotated, "access_token"))["sub"],
        signup["user"]["id"]
    );

    // Replayed within the grace period (two tabs racing): another pair for
    // the same session.
    let replayed = refreshed(&app, first_refresh).await;
    let third_refresh = text(&replayed, "refresh_token");
    assert_ne!(third_refresh, first_refresh);
    assert_ne!(third_refresh, second_refresh);
    assert_eq!(sid(&replayed), session, "same session");
    for body in [&signup, &rotated, &replayed] {
        assert_eq!(app.me(text(body, "access_token")).await.status(), 200);
    }

    let logout = app.logout(text(&replayed, "access_token")).await;
    assert_eq!(logout.status(), 204);
    assert!(logout.bytes().await.expect("body").is_empty());

    // Every access token of the session is refused at once, and so is every
    // refresh token of it.
    for body in [&signup, &rotated, &replayed] {
        assert_token_dead(&app, text(body, "access_token")).await;
    }
    for refresh_token in [first_refresh, second_refresh, third_refresh] {
        assert_refresh_dead(&app, refresh_token).await;
    }
    // Logging out twice, or without a token, is unauthorized.
    assert_problem(
        app.logout(text(&replayed, "access_token")).await,
        401,
        "unauthorized",
    )
    .await;
    let anonymous = app
        .client
        .post(app.url("/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_problem(anonymous, 401, "unauthorized").await;
    // The account itself is fine.
    assert_eq!(app.login("cycle@example.com", PASSWORD).await.status(), 200);
});

api_test!(
    reuse_after_the_grace_period_revokes_the_whole_session,
    settings | settings | {
        settings.jwt.refresh_reuse_grace_secs = 0;
    },
    |app| {
        let signup = app.signed_up("theft@example.com").await;
        let other_device = login_with_agent(&app, "theft@example.com", "other-device").await;
        let stolen = text(&signup, "refresh_token");
        let rotated = refreshed(&app, stolen).await;
        assert_eq!(app.me(text(&rotated, "access_token")).await.status(), 200);

        // Later: a replay now is past any grace period.
        app.clock.advance(chrono::TimeDelta::seconds(1));
        assert_refresh_dead(&app, stolen).await;

        // Theft detected: the newest refresh token and every access token of
        // the session are dead too.
        assert_refresh_dead(&app, text(&rotated, "refresh_token")).await;
        assert_token_dead(&app, text(&rotated, "access_token")).await;
        assert_token_dead(&app, text(&signup, "access_token")).await;
        // Retrying does not resurrect anything.
        assert_refresh_dead(&app, stolen).await;

        // The user's other sessions are not touched.
        let other_access = text(&other_device, "access_token");
        assert_eq!(app.me(other_access).await.status(), 200);
        let listed = list_sessions(&app, other_access).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["id"].as_str(), Some(sid(&other_device).as_str()));
        refreshed(&app, text(&other_device, "refresh_token")).await;
    }
);

api_test!(unknown_refresh_tokens_are_refused, |app| {
    let signup = app.signed_up("unknown-refresh@example.com").await;
    let genuine = text(&signup, "refresh_token");
    let mut altered = genuine.to_owned();
    let last = altered.pop().expect("non-empty");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for token in [
        "not-a-refresh-token",
        altered.as_str(),
        text(&signup, "access_token"),
        "",
    ] {
        assert_refresh_dead(&app, token).await;
    }
    // None of that harmed the real one.
    refreshed(&app, genuine).await;
});

api_test!(refresh_validates_its_body, |app| {
    let missing = app.post_json("/auth/refresh", &json!({})).await;
    let problem = assert_problem(missing, 422, "validation_failed").await;
    assert_eq!(error_fields(&problem), vec!["refresh_token"]);

    let mistyped = app
        .post_json("/auth/refresh", &json!({"refresh_token": 42}))
        .await;
    let problem = assert_problem(mistyped, 422, "validation_failed").await;
    assert_eq!(error_fields(&problem), vec!["refresh_token"]);

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = app
            .client
            .post(app.url("/auth/refresh"))
            .header("content-type", content_type)
            .body("refresh_token=abc")
            .send()
            .await
            .unwrap();
        assert_problem(response, 415, "unsupported_media_type").await;
    }

    let broken = app
        .client
        .post(app.url("/auth/refresh"))
        .header("content-type", "application/json")
        .body("{\"refresh_token\":")
        .send()
        .await
        .unwrap();
    assert_problem(broken, 400, "malformed_request").await;

    let wrong_method = app
        .client
        .get(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.headers()["allow"], "POST");
    assert_problem(wrong_method, 405, "method_not_allowed").await;
});

api_test!(sessions_are_listed_with_their_client, |app| {
    let signup = app
        .client
        .post(app.url("/auth/signup"))
        .header("user-agent", "agent-one/1.0")
        .json(&json!({"email": "list@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let first: Value = signup.json().await.unwrap();
    let second = login_with_agent(&app, "list@example.com", "agent-two/2.0 (test)").await;
    // Another user's sessions never show up.
    app.signed_up("someone-else@example.com").await;

    let items = list_sessions(&app, text(&second, "access_token")).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let mut ids = Vec::new();
    for item in &items {
        let mut fields: Vec<&str> = item
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "created_at",
                "current",
                "id",
                "ip",
                "last_used_at",
                "user_agent"
            ],
            "{item}"
        );
        assert_eq!(item["ip"], "127.0.0.1", "{item}");
        for stamp in ["created_at", "last_used_at"] {
            chrono::DateTime::parse_from_rfc3339(text(item, stamp))
                .unwrap_or_else(|e| panic!("{stamp} is not RFC 3339 ({e}): {item}"));
        }
        ids.push(text(item, "id").to_owned());
    }
    // Newest first; `current` marks the caller's session only.
    assert_eq!(ids, [sid(&second), sid(&first)]);
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[1]["current"], false);
    assert_eq!(items[0]["user_agent"], "agent-two/2.0 (test)");
    assert_eq!(items[1]["user_agent"], "agent-one/1.0");

    // Asked with the other session's token, `current` moves.
    let items = list_sessions(&app, text(&first, "access_token")).await;
    let current: Vec<&Value> = items.iter().filter(|i| i["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"].as_str(), Some(sid(&first).as_str()));

    // Without a User-Agent the field is null.
    let bare = app.login("list@example.com", PASSWORD).await;
    let bare: Value = bare.json().await.unwrap();
    let items = list_sessions(&app, text(&bare, "access_token")).await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"].as_str(), Some(sid(&bare).as_str()));
    assert_eq!(items[0]["user_agent"], Value::Null);

    let anonymous = app
        .client
        .get(app.url("/users/me/sessions"))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
});

api_test!(one_session_can_be_revoked, |app| {
    let first = app.signed_up("revoke-one@example.com").await;
    let second = login_with_agent(&app, "revoke-one@example.com", "second").await;
    let stranger = app.signed_up("stranger@example.com").await;
    let caller = text(&first, "access_token");

    let revoked = delete_session(&app, caller, &sid(&second)).await;
    assert_eq!(revoked.status(), 204);
    assert_token_dead(&app, text(&second, "access_token")).await;
    assert_refresh_dead(&app, text(&second, "refresh_token")).await;
    // The caller's own session lives on.
    assert_eq!(app.me(caller).await.status(), 200);
    let items = list_sessions(&app, caller).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"].as_str(), Some(sid(&first).as_str()));

    // Already revoked, another user's, unknown or malformed: 404.
    assert_problem(
        delete_session(&app, caller, &sid(&second)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        delete_session(&app, caller, &sid(&stranger)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        delete_session(&app, text(&stranger, "access_token"), &sid(&first)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        delete_session(&app, caller, &uuid::Uuid::now_v7().to_string()).await,
        404,
        "not_found",
    )
    .await;
    for malformed in ["not-a-uuid", "12345", "%20"] {
        assert_problem(
            delete_session(&app, caller, malformed).await,
            404,
            "not_found",
        )
        .await;
    }
    // None of the refused attempts touched anything.
    assert_eq!(app.me(caller).await.status(), 200);
    assert_eq!(app.me(text(&stranger, "access_token")).await.status(), 200);

    let anonymous = app
        .client
        .delete(app.url(&format!("/users/me/sessions/{}", sid(&first))))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
    assert_eq!(app.me(caller).await.status(), 200);

    // A session may revoke itself.
    let own = delete_session(&app, caller, &sid(&first)).await;
    assert_eq!(own.status(), 204);
    assert_token_dead(&app, caller).await;
});

api_test!(all_sessions_can_be_revoked_at_once, |app| {
    let sessions = [
        app.signed_up("revoke-all@example.com").await,
        login_with_agent(&app, "revoke-all@example.com", "b").await,
        login_with_agent(&app, "revoke-all@example.com", "c").await,
    ];
    // A rotated pair of the first session, to check that it dies as well.
    let rotated = refreshed(&app, text(&sessions[0], "refresh_token")).await;
    let bystander = app.signed_up("bystander@example.com").await;

    let caller = text(&sessions[1], "access_token");
    assert_eq!(list_sessions(&app, caller).await.len(), 3);
    let response = delete_all_sessions(&app, caller).await;
    assert_eq!(response.status(), 204);

    for body in sessions.iter().chain([&rotated]) {
        assert_token_dead(&app, text(body, "access_token")).await;
        assert_refresh_dead(&app, text(body, "refresh_token")).await;
    }
    // Other users keep theirs.
    assert_eq!(app.me(text(&bystander, "access_token")).await.status(), 200);
    refreshed(&app, text(&bystander, "refresh_token")).await;

    // Signing in again starts afresh.
    let again = app.login("revoke-all@example.com", PASSWORD).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    let items = list_sessions(&app, text(&again, "access_token")).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["current"], true);

    let anonymous = app
        .client
        .delete(app.url("/users/me/sessions"))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
});

api_test!(
    concurrent_refreshes_of_one_token_stay_in_one_session,
    |app| {
        let signup = app.signed_up("race@example.com").await;
        let session = sid(&signup);
        let refresh_token = text(&signup, "refresh_token").to_owned();
        let app = Arc::new(app);

        let racers: Vec<_> = (0..20)
            .map(|_| {
                let app = app.clone();
                let refresh_token = refresh_token.clone();
                tokio::spawn(async move {
                    let response = app.refresh(&refresh_token).await;
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.expect("json");
                    (status, body)
                })
            })
            .collect();
        let mut access_tokens = Vec::new();
        let mut refresh_tokens = HashSet::new();
        for racer in racers {
            let (status, body) = racer.await.expect("joined");
            assert!(status < 500, "{status}: {body}");
            assert_eq!(status, 200, "{body}");
            assert_eq!(sid(&body), session, "a racing refresh left the session");
            access_tokens.push(text(&body, "access_token").to_owned());
            assert!(
                refresh_tokens.insert(text(&body, "refresh_token").to_owned()),
                "two racers got the same refresh token"
            );
        }
        assert!(!refresh_tokens.contains(&refresh_token));

        // Still exactly one session, and every pair handed out works.
        let items = list_sessions(&app, &access_tokens[0]).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["id"].as_str(), Some(session.as_str()));
        for token in &access_tokens {
            assert_eq!(app.me(token).await.status(), 200);
        }
        let any = refresh_tokens.iter().next().expect("one");
        assert_eq!(sid(&refreshed(&app, any).await), session);
    }
);
