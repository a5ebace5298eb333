use std::collections::HashSet;

use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, assert_problem, error_fields, jwt_claims};

api_test!(signup_returns_tokens_and_the_user, |app| {
    let response = app
        .post_json(
            "/auth/signup",
            &json!({"email": "  Ada@Example.COM ", "password": PASSWORD, "display_name": "  Ada Lovelace "}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(refresh.len() >= 43);
    assert!(
        refresh
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["display_name"], "Ada Lovelace");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["role"], "user");
    let id = uuid::Uuid::parse_str(user["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok());
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password_hash").is_none() && user.get("is_active").is_none());

    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["iss"], "auth-module");
    assert_eq!(claims["aud"], "auth-module");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    for claim in ["sid", "nbf", "jti"] {
        assert!(!claims[claim].is_null(), "{claim} missing");
    }
});

api_test!(display_name_is_optional_and_may_be_null, |app| {
    let response = app
        .post_json(
            "/auth/signup",
            &json!({"email": "nil@example.com", "password": PASSWORD, "display_name": null}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["display_name"], Value::Null);
});

api_test!(an_email_is_taken_case_insensitively, |app| {
    app.signed_up("grace@example.com").await;
    let again = app
        .signup("GRACE@example.com", "another good password")
        .await;
    assert_problem(again, 409, "email_taken").await;
});

api_test!(invalid_fields_are_named, |app| {
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            vec!["email"],
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            vec!["password"],
        ),
        (
            json!({"email": "a@example.com", "password": "password123"}),
            vec!["password"],
        ),
        (
            json!({"email": "same@example.com", "password": "Same@Example.com"}),
            vec!["password"],
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(129)}),
            vec!["password"],
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": "  "}),
            vec!["display_name"],
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": "d".repeat(101)}),
            vec!["display_name"],
        ),
        (
            json!({"email": "bad", "password": "short", "display_name": ""}),
            vec!["email", "password", "display_name"],
        ),
        (
            json!({"email": format!("{}@example.com", "a".repeat(250)), "password": PASSWORD}),
            vec!["email"],
        ),
        (json!({"password": PASSWORD}), vec!["email"]),
        (json!({"email": "a@example.com"}), vec!["password"]),
        (json!({"email": 42, "password": PASSWORD}), vec!["email"]),
        // Every missing or mistyped field is named, not only the first.
        (json!({}), vec!["email", "password"]),
        (
            json!({"email": 5, "password": 5}),
            vec!["email", "password"],
        ),
        (
            json!({"email": 5, "password": 5, "display_name": 5}),
            vec!["display_name", "email", "password"],
        ),
        (json!({"email": "bad", "password": 5}), vec!["password"]),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": 7}),
            vec!["display_name"],
        ),
    ];
    for (body, fields) in cases {
        let response = app.post_json("/auth/signup", &body).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    // Nothing was stored.
    let login = app.login("a@example.com", PASSWORD).await;
    assert_problem(login, 401, "invalid_credentials").await;
});

api_test!(password_length_is_counted_in_characters, |app| {
    // 128 four-byte characters: 512 bytes, still valid.
    let crabs = "🦀".repeat(127) + "x";
    assert_eq!(app.signup("crab@example.com", &crabs).await.status(), 201);
    let login = app.login("crab@example.com", &crabs).await;
    assert_eq!(login.status(), 200);
    let too_long = "🦀".repeat(129);
    let problem = assert_problem(
        app.signup("crab2@example.com", &too_long).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), vec!["password"]);
});

api_test!(malformed_and_foreign_bodies_are_refused, |app| {
    let url = app.url("/auth/signup");
    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_problem(
        send("{\"email\": ", "application/json").await.unwrap(),
        400,
        "malformed_request",
    )
    .await;
    assert_problem(
        send("", "application/json").await.unwrap(),
        400,
        "malformed_request",
    )
    .await;
    assert_problem(
        send("not json", "application/json").await.unwrap(),
        400,
        "malformed_request",
    )
    .await;
    assert_problem(
        send("[1,2]", "application/json").await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        send("{}", "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        send("email=a&password=b", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let no_type = app.client.post(&url).body("{}").send().await.unwrap();
    assert_problem(no_type, 415, "unsupported_media_type").await;
    // Nothing at all (no body, no type) is no JSON: 400, as an empty
    // JSON body is, not a complaint about a type that was never sent.
    for path in ["/auth/signup", "/auth/login", "/auth/refresh"] {
        let nothing = app.client.post(app.url(path)).send().await.unwrap();
        assert_problem(nothing, 400, "malformed_request").await;
    }
});

api_test!(a_one_mebibyte_body_is_too_large, |app| {
    let huge = json!({"email": "big@example.com", "password": PASSWORD, "display_name": "x".repeat(1 << 20)});
    let response = app.post_json("/auth/signup", &huge).await;
    assert_problem(response, 413, "payload_too_large").await;
    // Without Content-Length (chunked), the limit holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 16 * 1024])).collect();
    let stream = futures_util::stream::iter(chunks);
    let response = app
        .client
        .post(app.url("/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
});

api_test!(concurrent_signups_with_one_email_yield_one_account, |app| {
    let app = std::sync::Arc::new(app);
    let attempts = (0..50).map(|i| {
        let app = app.clone();
        tokio::spawn(async move {
            let email = if i % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            let response = app.signup(email, PASSWORD).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut created = 0;
    for result in results {
        let (status, body) = result.unwrap();
        match status {
            201 => created += 1,
            409 => assert_eq!(body["code"], "email_taken"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    let ids: HashSet<String> = [app.login("race@example.com", PASSWORD).await]
        .into_iter()
        .map(|r| r.status().to_string())
        .collect();
    assert_eq!(ids, HashSet::from(["200 OK".to_owned()]));
});
