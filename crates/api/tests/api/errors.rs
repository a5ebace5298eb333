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
