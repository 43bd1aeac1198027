//! The web client's server side: its files served with their types and a strict CSP, and the
//! development sign-in that exists only on the generated development key. The page itself is
//! tested in a browser by tests/browser/ (run by scripts/test).

use parley::config::Environment;
use parley::http::web::CONTENT_SECURITY_POLICY;
use reqwest::Method;
use serde_json::json;

use crate::harness::client::problem;
use crate::harness::{TestApp, TestEnv};

#[tokio::test]
async fn the_page_and_its_files_are_served_with_their_types_and_a_strict_csp() {
    let app = TestApp::spawn().await;
    let files = [
        ("/", "text/html; charset=utf-8"),
        ("/web/style.css", "text/css; charset=utf-8"),
        ("/web/icon.svg", "image/svg+xml"),
        ("/web/js/app.js", "text/javascript; charset=utf-8"),
        ("/web/js/api.js", "text/javascript; charset=utf-8"),
        ("/web/js/live.js", "text/javascript; charset=utf-8"),
        ("/web/js/dom.js", "text/javascript; charset=utf-8"),
        ("/web/js/list.js", "text/javascript; charset=utf-8"),
        ("/web/js/conversation.js", "text/javascript; charset=utf-8"),
    ];
    for (path, content_type) in files {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{path}");
        // Nothing is fetched from elsewhere: no absolute URL in any file (SVG's namespace
        // name is an identifier, never fetched).
        let body = body.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!body.contains("http://") && !body.contains("https://"), "{path} names another origin");
    }
    assert!(CONTENT_SECURITY_POLICY.contains("default-src 'none'"));
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));

    let missing = app.get("/web/js/nothing.js").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    let outside = app.get("/web/../Cargo.toml").await;
    assert_eq!(outside.status(), 404);
}

#[tokio::test]
async fn development_sign_in_mints_a_working_token_on_the_development_key() {
    let env = TestEnv::start().await;
    let app = TestApp::spawn_with(env, |config| config.auth.jwt_secret = None).await;
    // The page asks whether development sign-in exists.
    assert_eq!(app.get("/api/dev/token").await.status(), 204);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/dev/token",
            None,
            Some(json!({"user_id": "ada", "role": "recruiter", "name": "Ada Lovelace"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "ada");
    assert_eq!(body["role"], "recruiter");
    let token = body["token"].as_str().expect("a token");
    let (status, me) = app.get_json("/api/users/me", token).await;
    assert_eq!(status, 200);
    assert_eq!(me, json!({"id": "ada", "name": "Ada Lovelace", "role": "recruiter"}));

    // Bad input: a problem naming the field, and no token.
    let cases = [
        (json!({"user_id": "ada", "role": "service"}), "role"),
        (json!({"user_id": "ada", "role": "analyst"}), "role"),
        (json!({"user_id": "ada", "role": "boss"}), "role"),
        (json!({"user_id": "has space", "role": "applicant"}), "user_id"),
        (json!({"role": "applicant"}), "user_id"),
        (json!({"user_id": "ada", "role": "applicant", "name": "x".repeat(101)}), "name"),
        (json!({"user_id": "ada", "role": "applicant", "admin": true}), "admin"),
    ];
    for (request, field) in cases {
        let answer = app.call(Method::POST, "/api/dev/token", None, Some(request.clone())).await;
        let problem = problem(answer, 400);
        assert!(problem.to_string().contains(field), "{request} -> {problem}");
    }
}

#[tokio::test]
async fn development_sign_in_does_not_exist_with_a_configured_key() {
    let request = json!({"user_id": "ada", "role": "recruiter"});
    // The harness configures PARLEY_JWT_SECRET, as a deployment does.
    let app = TestApp::spawn().await;
    let answer = app.call(Method::POST, "/api/dev/token", None, Some(request.clone())).await;
    problem(answer, 404);
    assert_eq!(app.get("/api/dev/token").await.status(), 404);
    let (_, document) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert!(document["paths"].get("/api/dev/token").is_none(), "not part of the API contract");

    let production = TestApp::spawn_with(TestEnv::start().await, |config| {
        config.environment = Environment::Production;
    })
    .await;
    let answer = production.call(Method::POST, "/api/dev/token", None, Some(request)).await;
    problem(answer, 404);
    // The page is still served; it offers the token form instead.
    assert_eq!(production.get("/").await.status(), 200);
}
