//! `POST /auth/token`: the OAuth 2.0 token endpoint (RFC 6749 §4.3 password
//! grant, §6 refresh), its §5.2 errors, and a standard OAuth 2.0 client
//! library talking to it.

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthType, ClientId, RefreshToken, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, TokenResponse as _, TokenUrl,
};
use serde_json::{Value, json};

use crate::api_test;
use crate::helpers::{PASSWORD, TestApp, assert_problem, jwt_claims};

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    let body = serde_urlencoded::to_string(form).expect("form");
    app.client
        .post(app.url("/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn password_grant(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    token_request(
        app,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn refresh_grant(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Asserts a successful RFC 6749 §5.1 token response and returns its body.
async fn assert_tokens(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("json");
    let mut fields: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["access_token", "expires_in", "refresh_token", "token_type"],
        "{body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(!body["access_token"].as_str().expect("str").is_empty());
    assert!(!body["refresh_token"].as_str().expect("str").is_empty());
    body
}

/// Asserts an RFC 6749 §5.2 error response with `error` and returns its
/// description.
async fn assert_oauth_error(response: reqwest::Response, error: &str) -> String {
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("json");
    let mut fields: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["error", "error_description"], "{body}");
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().expect("description");
    assert!(!description.is_empty());
    // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
    assert!(
        description
            .chars()
            .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\'),
        "{description:?}"
    );
    description.to_owned()
}

fn access(body: &Value) -> &str {
    body["access_token"].as_str().expect("access_token")
}

fn refresh(body: &Value) -> &str {
    body["refresh_token"].as_str().expect("refresh_token")
}

api_test!(password_grant_issues_tokens, |app| {
    let signup = app.signed_up("grant@example.com").await;
    let body = assert_tokens(password_grant(&app, "grant@example.com", PASSWORD).await).await;
    let claims = jwt_claims(access(&body));
    assert_eq!(claims["sub"], signup["user"]["id"]);
    assert_ne!(
        claims["sid"],
        jwt_claims(signup["access_token"].as_str().unwrap())["sid"],
        "a new session"
    );
    let me = app.me(access(&body)).await;
    assert_eq!(me.status(), 200);

    // The username is the e-mail address in any case; `scope` is ignored.
    let body = assert_tokens(
        token_request(
            &app,
            &[
                ("grant_type", "password"),
                ("username", " GRANT@Example.com "),
                ("password", PASSWORD),
                ("scope", "openid profile"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(app.me(access(&body)).await.status(), 200);
});

api_test!(refresh_token_grant_rotates, |app| {
    app.signed_up("rotate-grant@example.com").await;
    let first =
        assert_tokens(password_grant(&app, "rotate-grant@example.com", PASSWORD).await).await;
    let second = assert_tokens(refresh_grant(&app, refresh(&first)).await).await;
    assert_ne!(refresh(&second), refresh(&first));
    assert_ne!(access(&second), access(&first));
    assert_eq!(
        jwt_claims(access(&second))["sid"],
        jwt_claims(access(&first))["sid"]
    );
    assert_eq!(app.me(access(&second)).await.status(), 200);

    // The token endpoint and `/auth/refresh` share one refresh-token family.
    let third = app.refresh(refresh(&second)).await;
    assert_eq!(third.status(), 200);
    let third: Value = third.json().await.unwrap();
    let fourth = assert_tokens(refresh_grant(&app, refresh(&third)).await).await;
    assert_eq!(
        jwt_claims(access(&fourth))["sid"],
        jwt_claims(access(&first))["sid"]
    );

    // A logged-out session's refresh token is an invalid grant.
    assert_eq!(app.logout(access(&fourth)).await.status(), 204);
    assert_oauth_error(refresh_grant(&app, refresh(&fourth)).await, "invalid_grant").await;
});

api_test!(errors_follow_rfc_6749, |app| {
    app.signed_up("errors@example.com").await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "invalid_request"),
        (
            &[("username", "errors@example.com"), ("password", PASSWORD)],
            "invalid_request",
        ),
        (
            &[("grant_type", ""), ("username", "errors@example.com")],
            "invalid_request",
        ),
        (
            &[("grant_type", "authorization_code"), ("code", "abc")],
            "unsupported_grant_type",
        ),
        (
            &[("grant_type", "client_credentials")],
            "unsupported_grant_type",
        ),
        (
            &[
                ("grant_type", "PASSWORD"),
                ("username", "errors@example.com"),
                ("password", PASSWORD),
            ],
            "unsupported_grant_type",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "errors@example.com"),
                ("password", "not the password"),
            ],
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "nobody@example.com"),
                ("password", PASSWORD),
            ],
            "invalid_grant",
        ),
        (
            &[("grant_type", "password"), ("password", PASSWORD)],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "errors@example.com"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "errors@example.com"),
                ("password", ""),
            ],
            "invalid_request",
        ),
        (&[("grant_type", "refresh_token")], "invalid_request"),
        (
            &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
            "invalid_grant",
        ),
        // RFC 6749 §3.2: parameters must not be included more than once.
        (
            &[
                ("grant_type", "password"),
                ("grant_type", "password"),
                ("username", "errors@example.com"),
                ("password", PASSWORD),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "errors@example.com"),
                ("password", "wrong"),
                ("password", PASSWORD),
            ],
            "invalid_request",
        ),
    ];
    for (form, error) in cases {
        let response = token_request(&app, form).await;
        let status = response.status();
        assert_eq!(status, 400, "{form:?}");
        assert_oauth_error(response, error).await;
    }
    // Wrong password and unknown user are indistinguishable.
    let wrong = assert_oauth_error(
        password_grant(&app, "errors@example.com", "not the password").await,
        "invalid_grant",
    )
    .await;
    let unknown = assert_oauth_error(
        password_grant(&app, "nobody@example.com", PASSWORD).await,
        "invalid_grant",
    )
    .await;
    assert_eq!(wrong, unknown);
    // After all that, the right password still works.
    assert_tokens(password_grant(&app, "errors@example.com", PASSWORD).await).await;
});

api_test!(
    a_reused_refresh_token_is_an_invalid_grant,
    settings | settings | {
        settings.jwt.refresh_reuse_grace_secs = 0;
    },
    |app| {
        app.signed_up("reuse-grant@example.com").await;
        let first =
            assert_tokens(password_grant(&app, "reuse-grant@example.com", PASSWORD).await).await;
        let second = assert_tokens(refresh_grant(&app, refresh(&first)).await).await;
        // Later: a replay now is past any grace period.
        app.clock.advance(chrono::TimeDelta::seconds(1));
        assert_oauth_error(refresh_grant(&app, refresh(&first)).await, "invalid_grant").await;
        // The whole session is revoked.
        assert_oauth_error(refresh_grant(&app, refresh(&second)).await, "invalid_grant").await;
        assert_problem(app.me(access(&second)).await, 401, "unauthorized").await;
    }
);

api_test!(non_form_bodies_are_unsupported, |app| {
    app.signed_up("json-grant@example.com").await;
    let json_body = app
        .post_json(
            "/auth/token",
            &json!({"grant_type": "password", "username": "json-grant@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(json_body, 415, "unsupported_media_type").await;
    let no_type = app
        .client
        .post(app.url("/auth/token"))
        .body("grant_type=password")
        .send()
        .await
        .unwrap();
    assert_problem(no_type, 415, "unsupported_media_type").await;
    // Nothing at all is an empty form: RFC 6749's `invalid_request`.
    let nothing = app
        .client
        .post(app.url("/auth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(nothing.status(), 400);
    let body: Value = nothing.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    // A charset parameter is fine.
    let with_charset = app
        .client
        .post(app.url("/auth/token"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(format!(
            "grant_type=password&username=json-grant%40example.com&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_tokens(with_charset).await;
    let wrong_method = app.client.get(app.url("/auth/token")).send().await.unwrap();
    assert_problem(wrong_method, 405, "method_not_allowed").await;
});

api_test!(an_oauth2_client_library_gets_and_refreshes_tokens, |app| {
    app.signed_up("oauth2-client@example.com").await;
    let http = oauth2::reqwest::Client::builder()
        // Following redirects opens an OAuth client to SSRF.
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let token_url = TokenUrl::new(app.url("/auth/token")).expect("token URL");
    // Client authentication in a Basic header (the default) and in the body:
    // the endpoint has no confidential clients and ignores both.
    for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = BasicClient::new(ClientId::new("swagger-ui".into()))
            .set_auth_type(auth_type.clone())
            .set_token_uri(token_url.clone());
        let username = ResourceOwnerUsername::new("oauth2-client@example.com".into());
        let password = ResourceOwnerPassword::new(PASSWORD.into());
        let tokens = client
            .exchange_password(&username, &password)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("password grant with {auth_type:?}: {e:?}"));
        assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
        assert_eq!(tokens.expires_in(), Some(Duration::from_secs(900)));
        let access_token = tokens.access_token().secret();
        assert_eq!(app.me(access_token).await.status(), 200);
        let session = jwt_claims(access_token)["sid"].clone();
        let first_refresh = tokens.refresh_token().expect("a refresh token").clone();

        let refreshed = client
            .exchange_refresh_token(&first_refresh)
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("refresh grant with {auth_type:?}: {e:?}"));
        let second_refresh = refreshed.refresh_token().expect("a rotated refresh token");
        assert_ne!(second_refresh.secret(), first_refresh.secret());
        let access_token = refreshed.access_token().secret();
        assert_eq!(jwt_claims(access_token)["sid"], session);
        assert_eq!(app.me(access_token).await.status(), 200);

        // Errors reach the library as typed RFC 6749 errors.
        let wrong = ResourceOwnerPassword::new("not the password".into());
        match client
            .exchange_password(&username, &wrong)
            .request_async(&http)
            .await
        {
            Err(RequestTokenError::ServerResponse(error)) => {
                assert_eq!(*error.error(), BasicErrorResponseType::InvalidGrant);
                assert!(error.error_description().is_some());
            }
            other => panic!("expected invalid_grant, got {other:?}"),
        }
        let bogus = RefreshToken::new("bogus".into());
        match client
            .exchange_refresh_token(&bogus)
            .request_async(&http)
            .await
        {
            Err(RequestTokenError::ServerResponse(error)) => {
                assert_eq!(*error.error(), BasicErrorResponseType::InvalidGrant);
            }
            other => panic!("expected invalid_grant, got {other:?}"),
        }
    }
});
