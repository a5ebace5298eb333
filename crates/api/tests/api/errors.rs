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
