//! Start-up, health, readiness, recovery and bad configuration.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{TestApp, TestEnv};

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.get("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls readiness until `want` holds, or fails after `timeout`.
async fn wait_for_readiness(app: &TestApp, timeout: Duration, want: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (status, body) = readiness(app).await;
        if want(status, &body) {
            return body;
        }
        assert!(Instant::now() < deadline, "readiness never matched; last: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn health_and_readiness_answer_when_everything_is_up() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["nats"], "ok");
    assert_eq!(body["postgres"], "ok");
    assert_eq!(body["streams"], "ok");
}

#[tokio::test]
async fn readiness_names_nats_while_it_is_down_and_recovers_when_it_returns() {
    let mut app = TestApp::spawn().await;
    app.env.nats.kill().await;
    let body = wait_for_readiness(&app, Duration::from_secs(10), |s, _| s == 503).await;
    assert!(body["nats"].as_str().unwrap().starts_with("down"), "{body}");
    assert_eq!(body["postgres"], "ok");
    assert_eq!(app.get("/healthz").await.status(), 200, "the process stays up");

    app.env.nats.restart().await.unwrap();
    wait_for_readiness(&app, Duration::from_secs(20), |s, _| s == 200).await;
}

#[tokio::test]
async fn readiness_names_postgres_while_it_is_down_and_recovers_when_it_returns() {
    let env = TestEnv::start_with(true).await;
    let mut app = TestApp::spawn_in(env).await;
    let pg = app.env.pg.as_mut().expect("a private cluster");
    pg.kill().await;
    let body = wait_for_readiness(&app, Duration::from_secs(10), |s, _| s == 503).await;
    assert!(body["postgres"].as_str().unwrap().starts_with("down"), "{body}");
    assert_eq!(body["nats"], "ok");

    app.env.pg.as_mut().unwrap().restart().await.unwrap();
    wait_for_readiness(&app, Duration::from_secs(20), |s, _| s == 200).await;
}

#[tokio::test]
async fn unknown_paths_answer_with_a_problem_document() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/nothing-here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 404);
}

#[tokio::test]
async fn a_graceful_shutdown_completes() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    app.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Runs the real binary and returns (exit code, stderr).
fn run_parley(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let cwd = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .current_dir(cwd.path())
        .output()
        .expect("running parley");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn last_line(stderr: &str) -> &str {
    stderr.lines().last().unwrap_or_default()
}

#[test]
fn bad_configuration_stops_start_up_with_one_clear_line() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("NATS_URL", "http://localhost:4222"), ("DATABASE_URL", "postgres://x@127.0.0.1:1/x")],
            "NATS_URL",
        ),
        (&[("NATS_URL", "nats://127.0.0.1:4222"), ("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
        (&[("PARLEY_ENV", "production")], "production needs NATS_URL"),
        (
            &[
                ("PARLEY_STREAM_REPLICAS", "9"),
                ("NATS_URL", "nats://a:1"),
                ("DATABASE_URL", "postgres://a/b"),
            ],
            "REPLICAS",
        ),
        (
            &[
                ("PARLEY_ATTACHMENT_TYPES", "application/pdf,pdf"),
                ("NATS_URL", "nats://a:1"),
                ("DATABASE_URL", "postgres://a/b"),
            ],
            "PARLEY_ATTACHMENT_TYPES",
        ),
        (
            &[
                ("PARLEY_ATTACHMENT_ORPHAN_TTL", "0s"),
                ("NATS_URL", "nats://a:1"),
                ("DATABASE_URL", "postgres://a/b"),
            ],
            "PARLEY_ATTACHMENT_ORPHAN_TTL",
        ),
    ];
    for (env, expected) in cases {
        let (code, stderr) = run_parley(&["serve", "--listen", "127.0.0.1:0"], env);
        assert_eq!(code, 1, "{stderr}");
        let line = last_line(&stderr);
        assert!(line.starts_with("error: ") && line.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    }
}

#[test]
fn an_unreachable_nats_server_is_named_after_the_start_up_timeout() {
    let (code, stderr) = run_parley(
        &["serve", "--listen", "127.0.0.1:0", "--startup-timeout", "1s"],
        &[("NATS_URL", "nats://127.0.0.1:1"), ("DATABASE_URL", "postgres://x@127.0.0.1:1/x")],
    );
    assert_eq!(code, 1);
    assert!(last_line(&stderr).contains("cannot reach NATS"), "{stderr}");
}

#[tokio::test]
async fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let env = TestEnv::start().await;
    let mut config =
        parley::config::Config::for_tests(env.nats_url(), env.database_url.clone(), env.dir.path().join("d"));
    config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let error = parley::startup::Application::build(config).await.err().expect("the port is taken");
    assert!(error.to_string().contains("cannot listen"), "{error}");
}
