use auth_infra::testing::Backend;
use chrono::TimeDelta;
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
    // Nothing more was queued, so nothing more can arrive.
    let rows = app.wait_for_outbox(|row| row.status == "sent").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
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

/// SMTP is down when the mail is asked for; it comes up later and the mail
/// arrives, once.
async fn mail_survives_an_smtp_outage(backend: Backend) {
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let Some(app) = TestApp::spawn_with(backend, move |s| {
        s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
        s.mail.reset_url = "https://app.test/reset?token={token}".into();
    })
    .await
    else {
        return;
    };
    app.signed_up("patient@example.com").await;
    let forgot = app
        .post_json(
            "/auth/password/forgot",
            &json!({"email": "patient@example.com"}),
        )
        .await;
    assert_eq!(forgot.status(), 202, "answered as usual while SMTP is down");
    // The worker tried, failed, and the mail waits for its retry.
    let rows = app
        .wait_for_outbox(|row| row.attempts >= 1 && !row.claimed)
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "pending");
    assert!(rows[0].has_body);

    let sink = SmtpSink::start_on(port).await;
    // Not before its retry is due.
    assert_eq!(app.outbox.drain().await.expect("drain").sent, 0);
    assert_eq!(sink.count(), 0);
    app.clock.advance(TimeDelta::hours(1));
    app.outbox.drain().await.expect("drain");
    let message = sink.message(1).await;
    assert!(message.contains("To: patient@example.com"), "{message}");
    assert!(
        message.contains("https://app.test/reset?token="),
        "{message}"
    );
    let rows = app.wait_for_outbox(|row| row.status == "sent").await;
    assert!(!rows[0].has_body, "the sent body is forgotten");

    // Sent once, whatever happens next.
    app.clock.advance(TimeDelta::days(1));
    app.outbox.wake();
    assert_eq!(app.outbox.drain().await.expect("drain").sent, 0);
    assert_eq!(sink.count(), 1);
    assert_eq!(app.outbox_rows().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_survives_an_smtp_outage_sqlite() {
    mail_survives_an_smtp_outage(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_survives_an_smtp_outage_postgres() {
    mail_survives_an_smtp_outage(Backend::Postgres).await;
}

/// `forgot` answers before it writes anything for the account: the writes
/// an existing address costs (a link, a mail, an audit event) would
/// otherwise tell it from an unknown one by the answer's timing. Here the
/// link's table is locked, so those writes wait: the answer must not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_forgot_answers_before_the_work_an_account_costs() {
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    app.signed_up("timing@example.com").await;
    let queued = app.outbox_rows().await.len();
    let lock = app.db.db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE action_tokens IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app.post_json(
            "/auth/password/forgot",
            &json!({"email": "timing@example.com"}),
        ),
    )
    .await;
    lock.rollback().await.unwrap();
    let answer = answer.expect("answered while the link could not be written");
    assert_eq!(answer.status(), 202);
    // The work is done once the table is free: the link is mailed.
    for _ in 0..400 {
        if app.outbox_rows().await.len() > queued {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the reset mail was never queued");
}
