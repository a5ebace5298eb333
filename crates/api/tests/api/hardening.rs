//! The hardening rules of the contract, probed as an attacker would: replays
//! of refresh tokens, bursts of password guesses, old reset links, disabled
//! accounts and mail floods. Every test runs on SQLite and PostgreSQL.

use auth_infra::testing::Backend;
use futures_util::future::join_all;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem};
use crate::smtp::{SmtpSink, token_in};

/// Runs `$test(Backend)` on both engines.
macro_rules! on_both {
    ($test:ident) => {
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test(auth_infra::testing::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test(auth_infra::testing::Backend::Postgres).await;
            }
        }
    };
}

fn refresh_token(body: &Value) -> String {
    body["refresh_token"].as_str().unwrap().to_owned()
}

fn access_token(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

// ------------------------------------------------------------ refresh

api_test!(
    with_no_grace_a_refresh_token_is_redeemed_once_under_a_burst,
    settings | s | {
        s.jwt.refresh_reuse_grace_secs = 0;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        const RACERS: usize = 24;
        let signup = app.signed_up("racer@example.com").await;
        let presented = refresh_token(&signup);
        let responses = join_all((0..RACERS).map(|_| app.refresh(&presented))).await;
        let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            RACERS - 1,
            "{statuses:?}"
        );
        // Sequentially too: the same token never works twice.
        assert_problem(app.refresh(&presented).await, 401, "invalid_refresh_token").await;
    }
);

api_test!(
    after_the_grace_period_only_one_chain_of_a_session_survives,
    settings | s | {
        s.jwt.refresh_reuse_grace_secs = 1;
    },
    |app| {
        let signup = app.signed_up("forked@example.com").await;
        let r0 = refresh_token(&signup);
        let first = app.refresh(&r0).await;
        assert_eq!(first.status(), 200);
        let r1 = refresh_token(&first.json().await.unwrap());
        // Two replays of the rotated token within the grace period: racing
        // tabs get fresh pairs.
        let mut replays = Vec::new();
        for _ in 0..2 {
            let replay = app.refresh(&r0).await;
            assert_eq!(replay.status(), 200);
            replays.push(replay.json::<Value>().await.unwrap());
        }
        let r3 = refresh_token(&replays[1]);
        let access = access_token(&replays[1]);
        // Once the grace period is over, the newest token is the one chain
        // that continues ...
        app.clock.advance(chrono::TimeDelta::seconds(2));
        let next = app.refresh(&r3).await;
        assert_eq!(next.status(), 200);
        let r4 = refresh_token(&next.json().await.unwrap());
        // ... and presenting any token it superseded is theft: the session
        // dies, its live token and access tokens with it.
        assert_problem(app.refresh(&r1).await, 401, "invalid_refresh_token").await;
        assert_problem(app.refresh(&r4).await, 401, "invalid_refresh_token").await;
        assert_problem(app.me(&access).await, 401, "unauthorized").await;
        let r2 = refresh_token(&replays[0]);
        assert_problem(app.refresh(&r2).await, 401, "invalid_refresh_token").await;
    }
);

// ------------------------------------------------- limits before hashing

/// A log-in from `ip`, through the trusted proxy at 127.0.0.1.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request")
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

api_test!(
    a_burst_of_wrong_passwords_is_checked_at_most_the_pair_limit_times,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.login_max_failures = 10;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        app.signed_up("burst@example.com").await;
        let responses = join_all(
            (0..40)
                .map(|_| login_from(&app, "203.0.113.5", "burst@example.com", "wrong password!")),
        )
        .await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(count(&statuses, 401), 10, "{statuses:?}");
        assert_eq!(count(&statuses, 429), 30, "{statuses:?}");
        for response in responses.into_iter().filter(|r| r.status() == 429) {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
);

api_test!(
    a_burst_from_many_addresses_is_checked_at_most_the_account_limit_times,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.login_max_failures = 100;
        s.rate_limit.account_max_failures = 12;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        app.signed_up("target@example.com").await;
        let responses = join_all((0..36).map(|i| {
            let ip = format!("198.51.100.{i}");
            let app = &app;
            async move { login_from(app, &ip, "target@example.com", "wrong password!").await }
        }))
        .await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(count(&statuses, 401), 12, "{statuses:?}");
        assert_eq!(count(&statuses, 429), 24, "{statuses:?}");
    }
);

api_test!(
    wrong_passwords_through_a_stolen_access_token_are_limited_like_logins,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.login_max_failures = 3;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        let signup = app.signed_up("stolen@example.com").await;
        let token = access_token(&signup);
        let change = |current: &'static str| {
            app.client
                .post(app.url("/users/me/password"))
                .header("x-forwarded-for", "203.0.113.9")
                .bearer_auth(&token)
                .json(
                    &json!({"current_password": current, "new_password": "a brand new passphrase"}),
                )
                .send()
        };
        for _ in 0..3 {
            assert_problem(
                change("guess number one").await.unwrap(),
                403,
                "wrong_password",
            )
            .await;
        }
        // Past the limit, even the right password is not checked.
        let limited = change(PASSWORD).await.unwrap();
        assert!(limited.headers().contains_key("retry-after"));
        assert_problem(limited, 429, "rate_limited").await;
        let delete = app
            .client
            .delete(app.url("/users/me"))
            .header("x-forwarded-for", "203.0.113.9")
            .bearer_auth(&token)
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_problem(delete, 429, "rate_limited").await;
        // The same counters guard the log-in form.
        assert_problem(
            login_from(&app, "203.0.113.9", "stolen@example.com", PASSWORD).await,
            429,
            "rate_limited",
        )
        .await;
        // The account is intact and usable from elsewhere.
        assert_eq!(
            login_from(&app, "192.0.2.44", "stolen@example.com", PASSWORD)
                .await
                .status(),
            200
        );
    }
);

api_test!(
    wrong_deletion_passwords_are_limited_too,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.login_max_failures = 2;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        let signup = app.signed_up("deleter@example.com").await;
        let token = access_token(&signup);
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let response = app
                .client
                .delete(app.url("/users/me"))
                .header("x-forwarded-for", "203.0.113.10")
                .bearer_auth(&token)
                .json(&json!({"password": "not my password"}))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        assert_eq!(statuses, vec![403, 403, 429, 429]);
        assert_eq!(app.me(&token).await.status(), 200, "nothing was deleted");
    }
);

// ------------------------------------------------------------- mail links

async fn app_with_mail(
    backend: Backend,
    adjust: impl FnOnce(&mut auth_api::settings::Settings),
) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::spawn_with(backend, move |s| {
        s.mail.smtp_url = Some(url.into());
        s.rate_limit.ip_per_minute = 0;
        adjust(s);
    })
    .await?;
    Some((app, sink))
}

async fn forgot(app: &TestApp, email: &str) {
    let response = app
        .post_json("/auth/password/forgot", &json!({"email": email}))
        .await;
    assert_eq!(response.status(), 202);
}

async fn reset(app: &TestApp, token: &str, new_password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/password/reset",
        &json!({"token": token, "new_password": new_password}),
    )
    .await
}

async fn only_the_newest_reset_link_works(backend: Backend) {
    let Some((app, sink)) = app_with_mail(backend, |_| {}).await else {
        return;
    };
    app.signed_up("links@example.com").await;
    forgot(&app, "links@example.com").await;
    let t1 = token_in(&sink.message(1).await);
    forgot(&app, "links@example.com").await;
    let t2 = token_in(&sink.message(2).await);
    assert_ne!(t1, t2);

    assert_problem(
        reset(&app, &t1, "first new passphrase").await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(
        reset(&app, &t2, "second new passphrase").await.status(),
        204
    );
    assert_eq!(
        app.login("links@example.com", "second new passphrase")
            .await
            .status(),
        200
    );
}
on_both!(only_the_newest_reset_link_works);

async fn a_password_change_kills_outstanding_reset_links(backend: Backend) {
    let Some((app, sink)) = app_with_mail(backend, |_| {}).await else {
        return;
    };
    let signup = app.signed_up("changer@example.com").await;
    forgot(&app, "changer@example.com").await;
    let link = token_in(&sink.message(1).await);
    let changed = app
        .client
        .post(app.url("/users/me/password"))
        .bearer_auth(access_token(&signup))
        .json(&json!({"current_password": PASSWORD, "new_password": "changed passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);

    assert_problem(
        reset(&app, &link, "attacker passphrase").await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(
        app.login("changer@example.com", "changed passphrase")
            .await
            .status(),
        200
    );
}
on_both!(a_password_change_kills_outstanding_reset_links);

async fn a_disabled_account_cannot_reset_or_verify(backend: Backend) {
    let Some((app, sink)) = app_with_mail(backend, |_| {}).await else {
        return;
    };
    let signup = app.signed_up("disabled@example.com").await;
    forgot(&app, "disabled@example.com").await;
    let reset_link = token_in(&sink.message(1).await);
    let request = app
        .client
        .post(app.url("/auth/verify-email/request"))
        .bearer_auth(access_token(&signup))
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), 202);
    let verify_link = token_in(&sink.message(2).await);
    app.db
        .db
        .execute_unprepared(
            "UPDATE users SET is_active = false WHERE email = 'disabled@example.com'",
        )
        .await
        .unwrap();

    assert_problem(
        reset(&app, &reset_link, "taken over passphrase").await,
        403,
        "account_disabled",
    )
    .await;
    let verify = app
        .post_json("/auth/verify-email", &json!({"token": verify_link}))
        .await;
    assert_problem(verify, 403, "account_disabled").await;

    // Nothing changed: re-enabled, the old password works and the address
    // is still unverified.
    app.db
        .db
        .execute_unprepared(
            "UPDATE users SET is_active = true WHERE email = 'disabled@example.com'",
        )
        .await
        .unwrap();
    let login = app.login("disabled@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["user"]["email_verified"], false);
}
on_both!(a_disabled_account_cannot_reset_or_verify);

async fn one_address_gets_at_most_its_hourly_allowance_of_mail(backend: Backend) {
    let Some((app, sink)) = app_with_mail(backend, |s| s.rate_limit.mail_per_hour = 2).await else {
        return;
    };
    let signup = app.signed_up("victim@example.com").await;
    for _ in 0..4 {
        forgot(&app, "victim@example.com").await;
    }
    sink.message(2).await;
    let request = app
        .client
        .post(app.url("/auth/verify-email/request"))
        .bearer_auth(access_token(&signup))
        .send()
        .await
        .unwrap();
    assert!(request.headers().contains_key("retry-after"));
    assert_problem(request, 429, "rate_limited").await;
    // Every mail is queued before its request answers: two rows, so two
    // mails, however long one waits.
    let rows = app.wait_for_outbox(|row| row.status == "sent").await;
    assert_eq!(rows.len(), 2, "the flood queued nothing past the allowance");
    assert_eq!(sink.count(), 2);
}
on_both!(one_address_gets_at_most_its_hourly_allowance_of_mail);
