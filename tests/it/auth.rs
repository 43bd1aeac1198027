//! Authentication end to end: bearer tokens on a real route, and start-up refusing to run
//! without keys in production.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use parley::auth::Signer;
use parley::domain::{Role, UserId};
use serde_json::{Value, json};

use crate::harness::TestApp;

#[tokio::test]
async fn me_answers_the_profile_in_the_callers_token() {
    let app = TestApp::spawn().await;
    let abe = UserId::parse("abe").unwrap();
    let token = app
        .signer()
        .mint(&abe, Role::Applicant, Some("Abe"), Duration::from_secs(600))
        .unwrap();
    let response = app.get_as("/api/users/me", &token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": "abe", "name": "Abe", "role": "applicant"})
    );

    let response = app
        .get_as("/api/users/me", &app.token("rita", Role::Recruiter))
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": "rita", "name": null, "role": "recruiter"})
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_get_a_401_problem_naming_the_bearer_scheme() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "abe", "role": "applicant", "exp": now + 600});
    let expired = app
        .signer()
        .sign(&json!({"sub": "abe", "role": "applicant", "exp": now - 3600}))
        .unwrap();
    let foreign = Signer::hs256(b"someone-elses-secret-0123456789abcdef")
        .sign(&claims)
        .unwrap();
    let payload = foreign.split('.').nth(1).unwrap().to_owned();
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let cases = [
        (None, "missing bearer token"),
        (Some("Bearer not-a-jwt".to_owned()), "token malformed"),
        (Some(format!("Bearer {expired}")), "token expired"),
        (Some(format!("Bearer {foreign}")), "token signature invalid"),
        (Some(format!("Bearer {unsigned}")), "token malformed"),
        (Some(format!("Basic {foreign}")), "Bearer scheme"),
    ];
    for (authorization, detail) in cases {
        let mut request = app.http.get(app.url("/api/users/me"));
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], 401);
        let text = body["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{body}");
        assert!(
            !text.contains(&payload),
            "the token is never echoed: {body}"
        );
    }
}

/// Runs the real binary in `cwd` with only the given Parley settings.
fn parley(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_parley"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PARLEY_") || name == "NATS_URL" || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(cwd)
        .output()
        .expect("running parley")
}

#[test]
fn production_start_up_without_keys_names_the_setting_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let services = [
        ("NATS_URL", "nats://127.0.0.1:1"),
        ("DATABASE_URL", "postgres://x@127.0.0.1:1/x"),
    ];
    let serve = [
        "serve",
        "--env",
        "production",
        "--listen",
        "127.0.0.1:0",
        "--startup-timeout",
        "30s",
    ];
    let rs256 = [
        ("PARLEY_JWT_ALGORITHM", "RS256"),
        ("PARLEY_JWT_PUBLIC_KEY_FILE", "/nonexistent/idp.pem"),
    ];
    let cases: [(&[(&str, &str)], &str); 2] = [
        (&[], "PARLEY_JWT_SECRET"),
        (&rs256, "PARLEY_JWT_PUBLIC_KEY_FILE /nonexistent/idp.pem"),
    ];
    for (keys, expected) in cases {
        let started = Instant::now();
        let env: Vec<_> = services.iter().chain(keys).copied().collect();
        let output = parley(&serve, &env, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let line = stderr.lines().last().unwrap_or_default();
        assert!(
            line.starts_with("error: ") && line.contains(expected),
            "{stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "failed only after trying to connect"
        );
    }
}
