use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, assert_problem, error_fields};

api_test!(login_returns_tokens_and_the_user, |app| {
    let signup = app.signed_up("lin@example.com").await;
    let response = app.login("  LIN@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["id"], signup["user"]["id"]);
    assert_ne!(body["refresh_token"], signup["refresh_token"]);
    assert_ne!(body["access_token"], signup["access_token"]);
    // Each login opens its own session.
    let me = app.me(body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status(), 200);
});

api_test!(wrong_password_and_unknown_email_look_the_same, |app| {
    app.signed_up("known@example.com").await;
    let wrong = assert_problem(
        app.login("known@example.com", "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        app.login("nobody@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    let malformed_email = assert_problem(
        app.login("not an email", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, malformed_email);
    // The password is never trimmed or case-folded.
    assert_problem(
        app.login("known@example.com", &format!(" {PASSWORD}"))
            .await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        app.login("known@example.com", &PASSWORD.to_uppercase())
            .await,
        401,
        "invalid_credentials",
    )
    .await;
});

api_test!(login_validates_its_body, |app| {
    let missing = app
        .post_json("/auth/login", &json!({"email": "a@example.com"}))
        .await;
    let problem = assert_problem(missing, 422, "validation_failed").await;
    assert_eq!(error_fields(&problem), vec!["password"]);
    let mistyped = app
        .post_json("/auth/login", &json!({"email": ["a"], "password": "x"}))
        .await;
    let problem = assert_problem(mistyped, 422, "validation_failed").await;
    assert_eq!(error_fields(&problem), vec!["email"]);
    let broken = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_problem(broken, 400, "malformed_request").await;
});

api_test!(a_disabled_account_is_refused_after_the_password, |app| {
    use sea_orm::ConnectionTrait as _;
    let signup = app.signed_up("off@example.com").await;
    let token = signup["access_token"].as_str().unwrap().to_owned();
    app.db
        .db
        .execute_unprepared("UPDATE users SET is_active = false WHERE email = 'off@example.com'")
        .await
        .unwrap();
    assert_problem(
        app.login("off@example.com", PASSWORD).await,
        403,
        "account_disabled",
    )
    .await;
    assert_problem(
        app.login("off@example.com", "wrong password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    // Its live access token stops working too.
    assert_problem(app.me(&token).await, 401, "unauthorized").await;
});
