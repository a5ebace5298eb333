use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{TEST_SECRET, assert_problem, jwt_claims};

fn forge(claims: &Value, secret: &str) -> String {
    let kid = auth_infra::jwt::JwtKeys::hs256(TEST_SECRET.as_bytes())
        .unwrap()
        .signing_kid()
        .to_owned();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

api_test!(me_returns_the_current_user, |app| {
    let signup = app.signed_up("me@example.com").await;
    let response = app.me(signup["access_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user, signup["user"]);
    let fields: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut fields = fields;
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "display_name",
            "email",
            "email_verified",
            "id",
            "mfa_enabled",
            "role",
            "updated_at"
        ]
    );
});

api_test!(a_missing_token_gets_a_bearer_challenge, |app| {
    let response = app.client.get(app.url("/users/me")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_problem(response, 401, "unauthorized").await;
});

api_test!(other_schemes_get_a_bare_challenge, |app| {
    for header in ["Basic dXNlcjpwYXNz", "token", "Digest x"] {
        let response = app
            .client
            .get(app.url("/users/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{header}");
        assert_problem(response, 401, "unauthorized").await;
    }
});

api_test!(malformed_tokens_are_refused, |app| {
    for header in [
        "Bearer",
        "Bearer ",
        "bearer   ",
        "Bearer not.a.jwt",
        "Bearer a.b.c",
        "BEARER x",
    ] {
        let response = app
            .client
            .get(app.url("/users/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#,
            "{header}"
        );
        assert_problem(response, 401, "unauthorized").await;
    }
});

api_test!(expired_and_foreign_tokens_are_refused, |app| {
    let signup = app.signed_up("exp@example.com").await;
    let mut claims = jwt_claims(signup["access_token"].as_str().unwrap());
    // The genuine claims re-signed with our secret still work.
    assert_eq!(app.me(&forge(&claims, TEST_SECRET)).await.status(), 200);

    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 1000);
    claims["nbf"] = json!(now - 1000);
    claims["exp"] = json!(now - 100);
    assert_problem(
        app.me(&forge(&claims, TEST_SECRET)).await,
        401,
        "unauthorized",
    )
    .await;

    let mut fresh = jwt_claims(signup["access_token"].as_str().unwrap());
    let foreign = forge(&fresh, "another-secret-that-is-also-32-bytes-long");
    assert_problem(app.me(&foreign).await, 401, "unauthorized").await;

    fresh["role"] = json!("admin");
    let tampered = {
        let genuine = signup["access_token"].as_str().unwrap();
        let parts: Vec<&str> = genuine.split('.').collect();
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&fresh).unwrap());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    assert_problem(app.me(&tampered).await, 401, "unauthorized").await;
});

// With the session cache on (as here), a token already verified is
// answered from memory; it must still be refused the moment it expires.
api_test!(a_token_in_the_cache_is_refused_once_it_expires, |app| {
    let signup = app.signed_up("cached-exp@example.com").await;
    let token = signup["access_token"].as_str().unwrap();
    assert_eq!(app.me(token).await.status(), 200);
    assert_eq!(app.me(token).await.status(), 200);
    let ttl = signup["expires_in"].as_i64().unwrap();
    app.clock.advance(chrono::TimeDelta::seconds(ttl - 1));
    assert_eq!(app.me(token).await.status(), 200);
    app.clock.advance(chrono::TimeDelta::seconds(1));
    assert_problem(app.me(token).await, 401, "unauthorized").await;
});

// Rows deleted behind the service's back: only a read of the database sees
// that, so the session cache is off here (changes made through the service
// invalidate it: see `instances.rs`).
api_test!(
    tokens_of_deleted_users_and_sessions_are_refused,
    settings | s | {
        s.session_cache.max_age_ms = 0;
    },
    |app| {
        use sea_orm::ConnectionTrait as _;
        let first = app.signed_up("gone@example.com").await;
        let second = app.signed_up("stays@example.com").await;
        let token = first["access_token"].as_str().unwrap();
        assert_eq!(app.me(token).await.status(), 200);
        app.db
            .db
            .execute_unprepared("DELETE FROM users WHERE email = 'gone@example.com'")
            .await
            .unwrap();
        assert_problem(app.me(token).await, 401, "unauthorized").await;

        // A session deleted behind the token's back ends it as well.
        let token = second["access_token"].as_str().unwrap();
        app.db
            .db
            .execute_unprepared("DELETE FROM sessions")
            .await
            .unwrap();
        assert_problem(app.me(token).await, 401, "unauthorized").await;
    }
);
