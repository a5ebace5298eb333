use crate::api_test;
use crate::helpers::assert_problem;

api_test!(unknown_routes_are_problem_documents, |app| {
    for path in ["/nope", "/auth", "/users/me/extra", "/%FF"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_problem(response, 404, "not_found").await;
    }
});

api_test!(wrong_methods_are_problem_documents, |app| {
    let get_signup = app
        .client
        .get(app.url("/auth/signup"))
        .send()
        .await
        .unwrap();
    assert_problem(get_signup, 405, "method_not_allowed").await;
    let delete_health = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_problem(delete_health, 405, "method_not_allowed").await;
    let post_me = app.client.post(app.url("/users/me")).send().await.unwrap();
    assert_problem(post_me, 405, "method_not_allowed").await;
});

api_test!(
    every_get_resource_answers_head_with_the_get_headers_and_no_body,
    |app| {
        let token = app.signed_up("ada@example.com").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        for path in [
            "/health",
            "/health/ready",
            "/.well-known/jwks.json",
            "/openapi.json",
            "/users/me",
            "/projects",
        ] {
            let get = app
                .client
                .get(app.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let head = app
                .client
                .head(app.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(head.status(), get.status(), "{path}");
            for name in ["content-type", "cache-control"] {
                assert_eq!(
                    head.headers().get(name),
                    get.headers().get(name),
                    "{path}: {name}"
                );
            }
            assert!(
                head.bytes().await.unwrap().is_empty(),
                "{path}: a HEAD has no body"
            );
        }
        // HEAD is authenticated like GET.
        let anonymous = app.client.head(app.url("/users/me")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        // And listed where GET is.
        let wrong = app.client.delete(app.url("/health")).send().await.unwrap();
        assert_eq!(wrong.headers()["allow"], "GET, HEAD");
    }
);

/// Requests to protected routes that are wrong in more than one way: the
/// path parameter, the query or the body is malformed too.
const MALFORMED_PROTECTED: &[(&str, &str, Option<&str>)] = &[
    ("DELETE", "/users/me/sessions/not-a-uuid", None),
    ("GET", "/users/me/sessions?limit=abc", None),
    ("GET", "/users/me/audit?cursor=zzz", None),
    ("PATCH", "/users/me", Some("garbage")),
    ("DELETE", "/users/me", Some("{}")),
    ("POST", "/users/me/password", Some("{}")),
    ("POST", "/users/me/mfa/totp/confirm", Some("[1]")),
    ("GET", "/projects?limit=abc", None),
    ("POST", "/projects", Some("{}")),
    ("GET", "/projects/not-a-uuid", None),
    ("PATCH", "/projects/not-a-uuid", Some("garbage")),
    ("DELETE", "/projects/not-a-uuid", None),
    ("GET", "/admin/users?limit=abc", None),
    ("GET", "/admin/users/not-a-uuid", None),
    ("PATCH", "/admin/users/not-a-uuid", Some("garbage")),
    ("DELETE", "/admin/users/not-a-uuid/mfa", None),
    ("GET", "/admin/audit?cursor=zzz", None),
];

async fn send_protected(
    app: &crate::helpers::TestApp,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_owned());
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

api_test!(
    without_a_valid_token_a_protected_route_answers_401_whatever_else_is_wrong,
    |app| {
        // A token whose signature holds but whose session has ended: only
        // the database can tell, so its refusal comes last unless it is
        // checked first.
        let revoked = app.signed_up("gone@example.com").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.logout(&revoked).await.status(), 204);
        for &(method, path, body) in MALFORMED_PROTECTED {
            let response = send_protected(&app, method, path, body, None).await;
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}"
            );
            let problem = assert_problem(response, 401, "unauthorized").await;
            assert!(problem["errors"].is_null(), "{method} {path}: {problem}");
            let forged = send_protected(&app, method, path, body, Some("not.a.token")).await;
            assert_problem(forged, 401, "unauthorized").await;
            let ended = send_protected(&app, method, path, body, Some(&revoked)).await;
            assert_problem(ended, 401, "unauthorized").await;
        }
        // Routing still comes first: a wrong method is 405, an unknown path 404.
        let put_me = app.client.put(app.url("/users/me")).send().await.unwrap();
        assert_problem(put_me, 405, "method_not_allowed").await;
        let unknown = app
            .client
            .get(app.url("/projects/a/b"))
            .send()
            .await
            .unwrap();
        assert_problem(unknown, 404, "not_found").await;
    }
);

api_test!(
    a_non_admin_on_admin_routes_gets_403_whatever_else_is_wrong,
    |app| {
        let token = app.signed_up("plain@example.com").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        for &(method, path, body) in MALFORMED_PROTECTED {
            if !path.starts_with("/admin") {
                continue;
            }
            let response = send_protected(&app, method, path, body, Some(&token)).await;
            assert_problem(response, 403, "forbidden").await;
        }
        // The caller's own routes still validate what they are sent.
        let response =
            send_protected(&app, "GET", "/projects/not-a-uuid", None, Some(&token)).await;
        assert_problem(response, 404, "not_found").await;
        let response = send_protected(&app, "POST", "/projects", Some("{}"), Some(&token)).await;
        assert_problem(response, 422, "validation_failed").await;
    }
);
