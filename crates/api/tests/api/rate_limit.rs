use serde_json::json;

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem};

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

api_test!(
    failed_logins_are_limited_per_account_and_address,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.login_max_failures = 3;
    },
    |app| {
        app.signed_up("victim@example.com").await;
        for _ in 0..3 {
            let response =
                login_from(&app, "203.0.113.1", "victim@example.com", "wrong password!").await;
            assert_problem(response, 401, "invalid_credentials").await;
        }
        // The fourth attempt is refused before any password is checked, even
        // with the right one.
        let blocked = login_from(&app, "203.0.113.1", "victim@example.com", PASSWORD).await;
        let retry_after: u64 = blocked.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
        assert_problem(blocked, 429, "rate_limited").await;
        // Another address is not locked out by the attacker's failures.
        let other = login_from(&app, "198.51.100.7", "victim@example.com", PASSWORD).await;
        assert_eq!(other.status(), 200);
        // Nor is another account from the attacker's address.
        app.signed_up("other@example.com").await;
        let unrelated = login_from(&app, "203.0.113.1", "other@example.com", PASSWORD).await;
        assert_eq!(unrelated.status(), 200);
    }
);

api_test!(
    a_success_resets_the_pair,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.login_max_failures = 3;
    },
    |app| {
        app.signed_up("typo@example.com").await;
        for _ in 0..2 {
            login_from(&app, "203.0.113.2", "typo@example.com", "wrong password!").await;
        }
        assert_eq!(
            login_from(&app, "203.0.113.2", "typo@example.com", PASSWORD)
                .await
                .status(),
            200
        );
        for _ in 0..2 {
            let response =
                login_from(&app, "203.0.113.2", "typo@example.com", "wrong password!").await;
            assert_eq!(response.status(), 401, "the count started again");
        }
    }
);

api_test!(
    failures_from_all_addresses_are_capped_per_account,
    settings | s | {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.rate_limit.login_max_failures = 10;
        s.rate_limit.account_max_failures = 4;
    },
    |app| {
        app.signed_up("target@example.com").await;
        for i in 0..4 {
            let response = login_from(
                &app,
                &format!("192.0.2.{i}"),
                "target@example.com",
                "nope nope nope",
            )
            .await;
            assert_eq!(response.status(), 401);
        }
        let blocked = login_from(&app, "192.0.2.200", "target@example.com", PASSWORD).await;
        assert_problem(blocked, 429, "rate_limited").await;
    }
);

api_test!(
    requests_per_address_are_limited_on_auth_routes,
    settings | s | {
        s.rate_limit.ip_per_minute = 5;
    },
    |app| {
        for _ in 0..5 {
            let response = app.login("nobody@example.com", "whatever it is").await;
            assert_ne!(response.status(), 429);
        }
        let blocked = app.login("nobody@example.com", "whatever it is").await;
        assert!(blocked.headers().get("retry-after").is_some());
        assert_problem(blocked, 429, "rate_limited").await;
        let signup = app.signup("late@example.com", PASSWORD).await;
        assert_problem(signup, 429, "rate_limited").await;
        // Other routes are not counted.
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }
);

api_test!(
    limits_hold_across_instances,
    settings | s | {
        s.rate_limit.login_max_failures = 2;
    },
    |app| {
        app.signed_up("shared@example.com").await;
        let other = app
            .spawn_sharing(|s| s.rate_limit.login_max_failures = 2)
            .await;
        assert_eq!(
            app.login("shared@example.com", "wrong password!")
                .await
                .status(),
            401
        );
        assert_eq!(
            other
                .login("shared@example.com", "wrong password!")
                .await
                .status(),
            401
        );
        assert_problem(
            app.login("shared@example.com", PASSWORD).await,
            429,
            "rate_limited",
        )
        .await;
        assert_problem(
            other.login("shared@example.com", PASSWORD).await,
            429,
            "rate_limited",
        )
        .await;
    }
);

api_test!(
    zero_disables_the_address_limit,
    settings | s | {
        s.rate_limit.ip_per_minute = 0;
        s.rate_limit.login_max_failures = 1000;
        s.rate_limit.account_max_failures = 1000;
    },
    |app| {
        for _ in 0..150 {
            let response = app.login("nobody@example.com", "whatever it is").await;
            assert_eq!(response.status(), 401);
        }
    }
);
