use std::time::Duration;

use auth_infra::testing::Backend;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem};
use crate::smtp::{SmtpSink, token_in};

async fn app_with_mail(backend: Backend) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(backend, move |s| {
        s.mail.smtp_url = Some(url.into());
        s.mail.from = "Auth <no-reply@auth.test>".into();
        s.mail.verify_url = "https://app.test/verify?token={token}".into();
        s.mail.reset_url = "https://app.test/reset?token={token}&x=1".into();
    })
    .await?;
    Some((app, sink))
}

async fn email_verification(backend: Backend) {
    let Some((app, sink)) = app_with_mail(backend).await else {
        return;
    };
    let signup = app.signed_up("verify@example.com").await;
    let token = signup["access_token"].as_str().unwrap();
    let request = app
        .client
        .post(app.url("/auth/verify-email/request"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), 202);
    let message = sink.message(1).await;
    assert!(message.contains("To: verify@example.com"), "{message}");
    assert!(
        message.contains("https://app.test/verify?token="),
        "{message}"
    );
    let mailed = token_in(&message);
    assert!(mailed.len() >= 43, "{mailed}");

    let confirm = app
        .post_json("/auth/verify-email", &json!({"token": mailed}))
        .await;
    assert_eq!(confirm.status(), 204);
    let me: Value = app.me(token).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);
    // Single use.
    let again = app
        .post_json("/auth/verify-email", &json!({"token": mailed}))
        .await;
    assert_problem(again, 400, "invalid_token").await;
    let unknown = app
        .post_json("/auth/verify-email", &json!({"token": "nope"}))
        .await;
    assert_problem(unknown, 400, "invalid_token").await;
    // Once verified, asking again sends nothing.
    let request = app
        .client
        .post(app.url("/auth/verify-email/request"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), 202);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.count(), 1);
}

async fn password_reset(backend: Backend) {
    let Some((app, sink)) = app_with_mail(backend).await else {
        return;
    };
    let signup = app.signed_up("forgetful@example.com").await;
    let old_access = signup["access_token"].as_str().unwrap().to_owned();
    let old_refresh = signup["refresh_token"].as_str().unwrap().to_owned();

    // No enumeration: unknown addresses get the same answer and no mail.
    let unknown = app
        .post_json(
            "/auth/password/forgot",
            &json!({"email": "ghost@example.com"}),
        )
        .await;
    assert_eq!(unknown.status(), 202);
    let malformed = app
        .post_json("/auth/password/forgot", &json!({"email": "not an email"}))
        .await;
    assert_eq!(malformed.status(), 202);
    let known = app
        .post_json(
            "/auth/password/forgot",
            &json!({"email": "FORGETFUL@example.com"}),
        )
        .await;
    assert_eq!(known.status(), 202);
    let message = sink.message(1).await;
    assert_eq!(sink.count(), 1);
    assert!(
        message.contains("https://app.test/reset?token="),
        "{message}"
    );
    let token = token_in(&message);

    // A weak password is refused and leaves the token usable.
    let weak = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": "password"}),
        )
        .await;
    let problem = assert_problem(weak, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "new_password");

    let new_password = "a brand new passphrase";
    let reset = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": new_password}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    // Every session is gone; the old password too.
    assert_problem(app.me(&old_access).await, 401, "unauthorized").await;
    assert_problem(
        app.refresh(&old_refresh).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_problem(
        app.login("forgetful@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login("forgetful@example.com", new_password)
            .await
            .status(),
        200
    );
    // Single use.
    let again = app
        .post_json(
            "/auth/password/reset",
            &json!({"token": token, "new_password": "yet another passphrase"}),
        )
        .await;
    assert_problem(again, 400, "invalid_token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_verification_sqlite() {
    email_verification(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_verification_postgres() {
    email_verification(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_sqlite() {
    password_reset(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_postgres() {
    password_reset(Backend::Postgres).await;
}
