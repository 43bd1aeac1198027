//! Authentication end to end: bearer tokens on a real route, `parley token`, and start-up
//! refusing to run without keys in production.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use parley::auth::{DEV_SECRET_FILE, Signer, Verifier};
use parley::domain::{Role, UserId};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestEnv};

#[tokio::test]
async fn me_answers_the_profile_in_the_callers_token() {
    let app = TestApp::spawn().await;
    let abe = UserId::parse("abe").unwrap();
    let token = app.signer().mint(&abe, Role::Applicant, Some("Abe"), Duration::from_secs(600)).unwrap();
    let response = app.get_as("/api/users/me", &token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"id": "abe", "name": "Abe", "role": "applicant"}));

    let response = app.get_as("/api/users/me", &app.token("rita", Role::Recruiter)).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"id": "rita", "name": null, "role": "recruiter"}));
}

#[tokio::test]
async fn requests_without_a_valid_token_get_a_401_problem_naming_the_bearer_scheme() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "abe", "role": "applicant", "exp": now + 600});
    let expired = app.signer().sign(&json!({"sub": "abe", "role": "applicant", "exp": now - 3600})).unwrap();
    let foreign = Signer::hs256(b"someone-elses-secret-0123456789abcdef").sign(&claims).unwrap();
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
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], 401);
        let text = body["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{body}");
        assert!(!text.contains(&payload), "the token is never echoed: {body}");
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
    command.args(args).envs(env.iter().copied()).current_dir(cwd).output().expect("running parley")
}

/// The single line `parley token` printed.
fn printed_token(output: &Output) -> String {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stdout.ends_with('\n'));
    stdout.trim_end().to_owned()
}

const TOKEN_ARGS: &[&str] = &["token", "--sub", "abe", "--role", "applicant"];

#[test]
fn parley_token_prints_one_line_that_verifies_with_the_configured_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "a-configured-secret-0123456789abcdefghij";
    let output = parley(TOKEN_ARGS, &[("PARLEY_JWT_SECRET", secret)], dir.path());
    let principal = Verifier::hs256(secret.as_bytes()).verify(&printed_token(&output)).unwrap();
    assert_eq!(principal.user_id.as_str(), "abe");
    assert_eq!(principal.role, Role::Applicant);
    assert!(!dir.path().join(".parley").exists(), "a configured secret needs no development key");
}

#[test]
fn parley_token_without_a_secret_creates_the_development_secret_once_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = printed_token(&parley(TOKEN_ARGS, &[], dir.path()));
    let secret_file = dir.path().join(".parley").join(DEV_SECRET_FILE);
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    let second = printed_token(&parley(TOKEN_ARGS, &[], dir.path()));
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);

    let verifier = Verifier::hs256(secret.trim().as_bytes());
    for token in [first, second] {
        assert_eq!(verifier.verify(&token).unwrap().user_id.as_str(), "abe");
    }
}

#[tokio::test]
async fn a_development_server_accepts_tokens_from_parley_token_in_the_same_data_dir() {
    let env = TestEnv::start().await;
    let data_dir = env.dir.path().join("data");
    let app = TestApp::spawn_with(env, |config| config.auth.jwt_secret = None).await;
    let data_dir = data_dir.to_str().unwrap();
    let output = parley(TOKEN_ARGS, &[("PARLEY_DATA_DIR", data_dir)], Path::new("/"));
    let response = app.get_as("/api/users/me", &printed_token(&output)).await;
    assert_eq!(response.status(), 200);
}

#[test]
fn production_start_up_without_keys_names_the_setting_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let services = [("NATS_URL", "nats://127.0.0.1:1"), ("DATABASE_URL", "postgres://x@127.0.0.1:1/x")];
    let serve = ["serve", "--env", "production", "--listen", "127.0.0.1:0", "--startup-timeout", "30s"];
    let rs256 = [("PARLEY_JWT_ALGORITHM", "RS256"), ("PARLEY_JWT_PUBLIC_KEY_FILE", "/nonexistent/idp.pem")];
    let cases: [(&[(&str, &str)], &str); 2] =
        [(&[], "PARLEY_JWT_SECRET"), (&rs256, "PARLEY_JWT_PUBLIC_KEY_FILE /nonexistent/idp.pem")];
    for (keys, expected) in cases {
        let started = Instant::now();
        let env: Vec<_> = services.iter().chain(keys).copied().collect();
        let output = parley(&serve, &env, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let line = stderr.lines().last().unwrap_or_default();
        assert!(line.starts_with("error: ") && line.contains(expected), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(10), "failed only after trying to connect");
    }
}
