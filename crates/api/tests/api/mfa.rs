//! The TOTP second factor end to end: enrolment, log-in challenge, replay,
//! recovery codes, removal, the administrator's reset, limits and races.

use auth_domain::common::Clock as _;
use auth_infra::totp::TotpRsCodes;
use chrono::TimeDelta;
use futures_util::future::join_all;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem, jwt_claims};

/// What an authenticator app would show now for `secret`.
fn code(app: &TestApp, secret: &str) -> String {
    let now = u64::try_from(app.clock.now().timestamp()).unwrap();
    TotpRsCodes::code_at_base32(secret, now).unwrap()
}

/// Moves the clock to the next 30-second step.
fn next_step(app: &TestApp) {
    app.clock.advance(TimeDelta::seconds(30));
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn enrol(app: &TestApp, token: &str) -> Value {
    let response = send(
        app,
        reqwest::Method::POST,
        "/users/me/mfa/totp",
        token,
        &json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn confirm(app: &TestApp, token: &str, code: &str) -> reqwest::Response {
    send(
        app,
        reqwest::Method::POST,
        "/users/me/mfa/totp/confirm",
        token,
        &json!({"code": code}),
    )
    .await
}

async fn verify(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    app.post_json(
        "/auth/mfa/verify",
        &json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

/// A user with MFA on: their access token (of the session that turned it
/// on), base32 secret and recovery codes. The clock is left on the step
/// after the confirming one.
async fn with_mfa(app: &TestApp, email: &str) -> (String, String, Vec<String>) {
    let signup = app.signed_up(email).await;
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let secret = enrol(app, &token).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = confirm(app, &token, &code(app, &secret)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    next_step(app);
    (token, secret, codes)
}

/// Logs in with the password and returns the `mfa_token` of the 403.
async fn challenge(app: &TestApp, email: &str) -> String {
    let problem = assert_problem(app.login(email, PASSWORD).await, 403, "mfa_required").await;
    assert!(problem.get("access_token").is_none());
    problem["mfa_token"].as_str().unwrap().to_owned()
}

api_test!(enrol_confirm_and_log_in_with_a_code, |app| {
    let signup = app.signed_up("ada@example.com").await;
    let first = signup["access_token"].as_str().unwrap().to_owned();
    assert_eq!(signup["user"]["mfa_enabled"], false);
    assert_eq!(jwt_claims(&first)["amr"], json!(["pwd"]));
    let other = app.login("ada@example.com", PASSWORD).await;
    let other: Value = other.json().await.unwrap();
    let other = other["access_token"].as_str().unwrap().to_owned();

    let enrolment = enrol(&app, &first).await;
    let secret = enrolment["secret"].as_str().unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Auth%20Module:ada@example.com?secret="),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret}&")), "{uri}");
    assert!(uri.ends_with("&issuer=Auth%20Module&algorithm=SHA1&digits=6&period=30"));
    // Pending: log-in still needs the password only.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status(), 200);

    assert_problem(
        confirm(&app, &first, "000000").await,
        401,
        "invalid_mfa_code",
    )
    .await;
    let confirming_code = code(&app, secret);
    let response = confirm(&app, &first, &confirming_code).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let recovery: Vec<&str> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(recovery.len(), 10);
    // Shown once: stored as hashes only, like the secret never in clear.
    let stored = app
        .db
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.db.get_database_backend(),
            "SELECT code_hash FROM mfa_recovery_codes",
        ))
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    for row in stored {
        let hash: String = row.try_get("", "code_hash").unwrap();
        assert!(!recovery.iter().any(|c| c.contains(&hash[..8])));
    }
    let secrets = app
        .db
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.db.get_database_backend(),
            "SELECT secret FROM mfa_factors",
        ))
        .await
        .unwrap();
    let sealed: String = secrets[0].try_get("", "secret").unwrap();
    assert!(!sealed.contains(secret));

    // The confirming session stays, every other one ends.
    assert_eq!(app.me(&first).await.status(), 200);
    assert_eq!(app.me(&other).await.status(), 401);
    let me: Value = app.me(&first).await.json().await.unwrap();
    assert_eq!(me["mfa_enabled"], true);
    assert_problem(
        send(
            &app,
            reqwest::Method::POST,
            "/users/me/mfa/totp",
            &first,
            &json!({"password": PASSWORD}),
        )
        .await,
        409,
        "mfa_already_enabled",
    )
    .await;

    // Log-in: no tokens, a challenge instead.
    let mfa_token = challenge(&app, "ada@example.com").await;
    assert!(mfa_token.len() >= 43);
    assert!(
        mfa_token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    // The code that confirmed the enrolment was used: not again.
    assert_problem(
        verify(&app, &mfa_token, &confirming_code).await,
        401,
        "invalid_mfa_code",
    )
    .await;
    next_step(&app);
    let login_code = code(&app, secret);
    let response = verify(&app, &mfa_token, &login_code).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["user"]["mfa_enabled"], true);
    assert_eq!(
        jwt_claims(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    // A refreshed token keeps the session's methods.
    let refreshed: Value = app
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwt_claims(refreshed["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );

    // The token is single-use; the code is never accepted twice.
    assert_problem(
        verify(&app, &mfa_token, &login_code).await,
        401,
        "invalid_mfa_token",
    )
    .await;
    let again = challenge(&app, "ada@example.com").await;
    assert_problem(
        verify(&app, &again, &login_code).await,
        401,
        "invalid_mfa_code",
    )
    .await;
    assert_problem(
        verify(&app, "not-a-token", &login_code).await,
        401,
        "invalid_mfa_token",
    )
    .await;
});

api_test!(a_challenge_expires_after_five_minutes, |app| {
    let (_, secret, _) = with_mfa(&app, "late@example.com").await;
    let mfa_token = challenge(&app, "late@example.com").await;
    app.clock.advance(TimeDelta::seconds(301));
    assert_problem(
        verify(&app, &mfa_token, &code(&app, &secret)).await,
        401,
        "invalid_mfa_token",
    )
    .await;
});

api_test!(a_new_password_ends_the_pending_challenges, |app| {
    // The mfa_token stands for the old password having been right: someone
    // who learnt it, and is stopped at the second factor, must not keep a
    // way in once the owner has changed it.
    let (token, secret, _) = with_mfa(&app, "moved@example.com").await;
    let before = challenge(&app, "moved@example.com").await;
    let new_password = "a completely different passphrase";
    let response = send(
        &app,
        reqwest::Method::POST,
        "/users/me/password",
        &token,
        &json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_problem(
        verify(&app, &before, &code(&app, &secret)).await,
        401,
        "invalid_mfa_token",
    )
    .await;
    // A challenge won with the new password works.
    let problem = assert_problem(
        app.login("moved@example.com", new_password).await,
        403,
        "mfa_required",
    )
    .await;
    let after = problem["mfa_token"].as_str().unwrap();
    assert_eq!(
        verify(&app, after, &code(&app, &secret)).await.status(),
        200
    );
});

api_test!(a_recovery_code_works_once, |app| {
    let (_, _, recovery) = with_mfa(&app, "lost@example.com").await;
    let mfa_token = challenge(&app, "lost@example.com").await;
    // Typed in capitals, without dashes: still the code.
    let typed = recovery[3].replace('-', "").to_uppercase();
    let response = verify(&app, &mfa_token, &typed).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        jwt_claims(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    let mfa_token = challenge(&app, "lost@example.com").await;
    assert_problem(
        verify(&app, &mfa_token, &recovery[3]).await,
        401,
        "invalid_mfa_code",
    )
    .await;
    assert_eq!(verify(&app, &mfa_token, &recovery[4]).await.status(), 200);
});

api_test!(
    wrong_codes_count_toward_the_log_in_limits,
    settings | s | {
        s.rate_limit.login_max_failures = 3;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        let (_, secret, _) = with_mfa(&app, "guess@example.com").await;
        let mfa_token = challenge(&app, "guess@example.com").await;
        for _ in 0..3 {
            assert_problem(
                verify(&app, &mfa_token, "000000").await,
                401,
                "invalid_mfa_code",
            )
            .await;
        }
        // Past the limit: refused without checking, even the right code.
        let response = verify(&app, &mfa_token, &code(&app, &secret)).await;
        assert!(response.headers().contains_key("retry-after"));
        assert_problem(response, 429, "rate_limited").await;
        // The password log-in shares the allowance.
        assert_problem(
            app.login("guess@example.com", PASSWORD).await,
            429,
            "rate_limited",
        )
        .await;
    }
);

api_test!(
    the_right_password_does_not_reset_the_count_of_wrong_codes,
    settings | s | {
        s.rate_limit.login_max_failures = 3;
        s.rate_limit.account_max_failures = 100;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        let (_, secret, _) = with_mfa(&app, "relog@example.com").await;
        let right = code(&app, &secret);
        let wrong = if right == "000000" {
            "000001"
        } else {
            "000000"
        };
        // Someone who knows the password logs in again before each guess.
        for _ in 0..3 {
            let mfa_token = challenge(&app, "relog@example.com").await;
            assert_problem(
                verify(&app, &mfa_token, wrong).await,
                401,
                "invalid_mfa_code",
            )
            .await;
        }
        // The pair's three wrong codes still count: no fourth guess.
        assert_problem(
            app.login("relog@example.com", PASSWORD).await,
            429,
            "rate_limited",
        )
        .await;
    }
);

api_test!(removing_mfa_needs_the_password_and_a_code, |app| {
    let (token, secret, recovery) = with_mfa(&app, "off@example.com").await;
    let remove = |body: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            send(
                app,
                reqwest::Method::DELETE,
                "/users/me/mfa/totp",
                &token,
                &body,
            )
            .await
        }
    };
    assert_problem(
        remove(json!({"password": "wrong password!", "code": code(&app, &secret)})).await,
        403,
        "wrong_password",
    )
    .await;
    assert_problem(
        remove(json!({"password": PASSWORD, "code": "123"})).await,
        401,
        "invalid_mfa_code",
    )
    .await;
    assert_problem(
        remove(json!({"password": PASSWORD, "code": ""})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        remove(json!({"password": PASSWORD, "code": recovery[0]}))
            .await
            .status(),
        204
    );
    assert_problem(
        remove(json!({"password": PASSWORD, "code": recovery[1]})).await,
        409,
        "mfa_not_enabled",
    )
    .await;
    let response = app.login("off@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["mfa_enabled"], false);
});

api_test!(
    wrong_passwords_on_removal_count_toward_the_limits,
    settings | s | {
        s.rate_limit.login_max_failures = 2;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        let (token, secret, _) = with_mfa(&app, "brute@example.com").await;
        for _ in 0..2 {
            assert_problem(
                send(
                    &app,
                    reqwest::Method::DELETE,
                    "/users/me/mfa/totp",
                    &token,
                    &json!({"password": "wrong password!", "code": "000000"}),
                )
                .await,
                403,
                "wrong_password",
            )
            .await;
        }
        assert_problem(
            send(
                &app,
                reqwest::Method::DELETE,
                "/users/me/mfa/totp",
                &token,
                &json!({"password": PASSWORD, "code": code(&app, &secret)}),
            )
            .await,
            429,
            "rate_limited",
        )
        .await;
    }
);

api_test!(regenerating_recovery_codes_kills_the_old_ones, |app| {
    let (token, secret, old) = with_mfa(&app, "regen@example.com").await;
    let response = send(
        &app,
        reqwest::Method::POST,
        "/users/me/mfa/recovery-codes",
        &token,
        &json!({"password": PASSWORD, "code": code(&app, &secret)}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let fresh = body["recovery_codes"].as_array().unwrap();
    assert_eq!(fresh.len(), 10);
    let mfa_token = challenge(&app, "regen@example.com").await;
    assert_problem(
        verify(&app, &mfa_token, &old[0]).await,
        401,
        "invalid_mfa_code",
    )
    .await;
    assert_eq!(
        verify(&app, &mfa_token, fresh[0].as_str().unwrap())
            .await
            .status(),
        200
    );
});

api_test!(confirming_without_an_enrolment_is_a_conflict, |app| {
    let signup = app.signed_up("early@example.com").await;
    let token = signup["access_token"].as_str().unwrap();
    assert_problem(confirm(&app, token, "123456").await, 409, "mfa_not_enabled").await;
    assert_problem(
        send(
            &app,
            reqwest::Method::POST,
            "/users/me/mfa/recovery-codes",
            token,
            &json!({"password": PASSWORD, "code": "123456"}),
        )
        .await,
        409,
        "mfa_not_enabled",
    )
    .await;
});

api_test!(an_administrator_resets_a_lost_device, |app| {
    let (admin_token, _) = {
        let signup = app.signed_up("root@example.com").await;
        app.db
            .db
            .execute_unprepared("UPDATE users SET role = 'admin' WHERE email = 'root@example.com'")
            .await
            .unwrap();
        (signup["access_token"].as_str().unwrap().to_owned(), ())
    };
    let (token, _, _) = with_mfa(&app, "lost@example.com").await;
    let me: Value = app.me(&token).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap().to_owned();
    let admin_view: Value = app
        .client
        .get(app.url(&format!("/admin/users/{id}")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin_view["mfa_enabled"], true);
    // Not for a non-admin.
    assert_problem(
        send(
            &app,
            reqwest::Method::DELETE,
            &format!("/admin/users/{id}/mfa"),
            &token,
            &json!({}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let reset = |id: String| {
        let (app, admin_token) = (&app, admin_token.clone());
        async move {
            app.client
                .delete(app.url(&format!("/admin/users/{id}/mfa")))
                .bearer_auth(&admin_token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(reset(id.clone()).await.status(), 204);
    assert_eq!(app.me(&token).await.status(), 401, "sessions revoked");
    // Recorded with the administrator as the actor.
    let admin_id = app.me(&admin_token).await.json::<Value>().await.unwrap()["id"].clone();
    let trail: Value = app
        .client
        .get(app.url(&format!("/admin/audit?type=mfa_disabled&user_id={id}")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(trail["items"].as_array().unwrap().len(), 1, "{trail}");
    assert_eq!(trail["items"][0]["actor_id"], admin_id);
    assert_eq!(trail["items"][0]["details"]["by"], "administrator");
    let relogged = app.login("lost@example.com", PASSWORD).await;
    assert_eq!(relogged.status(), 200);
    assert_problem(reset(id.clone()).await, 409, "mfa_not_enabled").await;
    // An enrolment in progress is no factor to reset: the 409 leaves it,
    // and the user can still confirm it.
    let token = relogged.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = enrol(&app, &token).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_problem(reset(id).await, 409, "mfa_not_enabled").await;
    assert_eq!(
        confirm(&app, &token, &code(&app, &secret)).await.status(),
        200
    );
    assert_problem(
        reset(uuid::Uuid::now_v7().to_string()).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(reset("nope".into()).await, 404, "not_found").await;
});

api_test!(the_token_endpoint_answers_mfa_required, |app| {
    let (_, secret, _) = with_mfa(&app, "oauth@example.com").await;
    let response = app
        .client
        .post(app.url("/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "oauth@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required");
    assert!(body["error_description"].is_string());
    assert!(body.get("access_token").is_none());
    let mfa_token = body["mfa_token"].as_str().unwrap();
    assert_eq!(
        verify(&app, mfa_token, &code(&app, &secret)).await.status(),
        200
    );
});

api_test!(
    concurrent_verifications_of_one_code_let_exactly_one_in,
    settings | s | {
        s.rate_limit.login_max_failures = 100;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        let (_, secret, _) = with_mfa(&app, "race@example.com").await;
        let mut tokens = Vec::new();
        for _ in 0..20 {
            tokens.push(challenge(&app, "race@example.com").await);
        }
        let current = code(&app, &secret);
        let responses = join_all(tokens.iter().map(|t| verify(&app, t, &current))).await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            19,
            "{statuses:?}"
        );
        // And 20 presentations of one token and one code: one session.
        next_step(&app);
        let token = challenge(&app, "race@example.com").await;
        let current = code(&app, &secret);
        let responses = join_all((0..20).map(|_| verify(&app, &token, &current))).await;
        let ok = responses.iter().filter(|r| r.status() == 200).count();
        assert_eq!(ok, 1);
    }
);

api_test!(
    concurrent_verifications_of_one_token_spend_only_the_winners_code,
    settings | s | {
        s.rate_limit.login_max_failures = 100;
        s.rate_limit.ip_per_minute = 0;
    },
    |app| {
        let (_, _, codes) = with_mfa(&app, "spent@example.com").await;
        let token = challenge(&app, "spent@example.com").await;
        // Twenty presentations of one token, each recovery code twice.
        let responses =
            join_all((0..20).map(|i| verify(&app, &token, &codes[i % codes.len()]))).await;
        let winners: Vec<usize> = responses
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status() == 200)
            .map(|(i, _)| i % codes.len())
            .collect();
        assert_eq!(winners.len(), 1, "one session per token");
        for response in responses.into_iter().filter(|r| r.status() != 200) {
            assert_problem(response, 401, "invalid_mfa_token").await;
        }
        // Only the winner's code was spent: every other one still works once.
        for (i, code) in codes.iter().enumerate() {
            let token = challenge(&app, "spent@example.com").await;
            let status = verify(&app, &token, code).await.status();
            if i == winners[0] {
                assert_eq!(status, 401, "the winning code is spent");
            } else {
                assert_eq!(
                    status, 200,
                    "recovery code {i} was burnt by a losing request"
                );
            }
        }
    }
);

api_test!(
    concurrent_confirmations_turn_mfa_on_once,
    settings | s | {
        s.rate_limit.login_max_failures = 100;
    },
    |app| {
        let signup = app.signed_up("twice@example.com").await;
        let token = signup["access_token"].as_str().unwrap().to_owned();
        let secret = enrol(&app, &token).await["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let current = code(&app, &secret);
        let responses = join_all((0..20).map(|_| confirm(&app, &token, &current))).await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 409).count(),
            19,
            "{statuses:?}"
        );
        let rows = app
            .db
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                app.db.db.get_database_backend(),
                "SELECT id FROM mfa_recovery_codes",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 10, "one set of recovery codes");
    }
);

api_test!(
    every_mfa_change_and_challenge_is_audited_without_codes,
    |app| {
        let (token, secret, recovery) = with_mfa(&app, "audited@example.com").await;
        let user_id = app.me(&token).await.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // A wrong code, then the right one.
        let mfa_token = challenge(&app, "audited@example.com").await;
        assert_eq!(verify(&app, &mfa_token, "000000").await.status(), 401);
        let signed_in = verify(&app, &mfa_token, &code(&app, &secret)).await;
        assert_eq!(signed_in.status(), 200);
        next_step(&app);

        // New recovery codes, then MFA off.
        let regenerated = send(
            &app,
            reqwest::Method::POST,
            "/users/me/mfa/recovery-codes",
            &token,
            &json!({"password": PASSWORD, "code": code(&app, &secret)}),
        )
        .await;
        assert_eq!(regenerated.status(), 200);
        let fresh: Value = regenerated.json().await.unwrap();
        let fresh_code = fresh["recovery_codes"][0].as_str().unwrap().to_owned();
        let removed = send(
            &app,
            reqwest::Method::DELETE,
            "/users/me/mfa/totp",
            &token,
            &json!({"password": PASSWORD, "code": fresh_code}),
        )
        .await;
        assert_eq!(removed.status(), 204);

        let trail: Value = app
            .client
            .get(app.url("/users/me/audit?limit=100"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = trail["items"].as_array().unwrap();
        let kinds: Vec<&str> = events
            .iter()
            .rev()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        for expected in [
            "mfa_enabled",
            "mfa_challenge_failed",
            "login_succeeded",
            "recovery_codes_regenerated",
            "mfa_disabled",
        ] {
            assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
        }
        let position = |kind: &str| kinds.iter().position(|k| *k == kind).unwrap();
        assert!(position("mfa_enabled") < position("mfa_challenge_failed"));
        assert!(position("recovery_codes_regenerated") < position("mfa_disabled"));
        for event in events {
            assert_eq!(event["user_id"], user_id.as_str());
        }

        // No secret, code or recovery code anywhere in the stored trail.
        let rows = app
            .db
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                app.db.db.get_database_backend(),
                "SELECT details FROM audit_events",
            ))
            .await
            .unwrap();
        let stored: String = rows
            .iter()
            .map(|row| row.try_get::<String>("", "details").unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let mut secrets = vec![secret.clone(), mfa_token.clone(), fresh_code];
        secrets.extend(recovery);
        for needle in secrets {
            assert!(!stored.contains(&needle), "{needle} leaked into the trail");
        }
    }
);
