//! Rate limits per user and per client address: a flooding client is refused with 429 and
//! Retry-After (or `rate_limited` error frames), and everyone else is served as before.

use std::time::{Duration, Instant};

use parley::config::Config;
use parley::domain::Role;
use serde_json::json;

use crate::harness::{TestApp, TestEnv};

fn user_limit(per_second: u32, burst: u32) -> impl FnOnce(&mut Config) {
    move |config| {
        config.limits.rate_limit_user = per_second;
        config.limits.rate_limit_user_burst = burst;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `count` paced GETs of /api/users/me by `token`; their latencies, sorted. Panics on any
/// answer but 200.
async fn paced_reads(app: &TestApp, token: &str, count: usize, every: Duration) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(count);
    let mut tick = tokio::time::interval(every);
    for _ in 0..count {
        tick.tick().await;
        let started = Instant::now();
        let response = app.get_as("/api/users/me", token).await;
        latencies.push(started.elapsed());
        assert_eq!(response.status(), 200, "the other user is refused: {:?}", response.text().await);
    }
    latencies.sort();
    latencies
}

// Two worker threads: on the default single thread the flood's own clients would delay the
// other user's client, and the figure would measure the test, not the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_flooding_gets_429_with_retry_after_while_another_keeps_being_served() {
    let app = TestApp::spawn_with(TestEnv::start().await, user_limit(20, 20)).await;
    let mallory = app.token("mallory", Role::Applicant);
    let abe = app.token("abe", Role::Applicant);
    let baseline = paced_reads(&app, &abe, 20, Duration::from_millis(100)).await;

    let flood_for = Duration::from_secs(3);
    let floods: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, token) = (app.http.clone(), app.url("/api/users/me"), mallory.clone());
            tokio::spawn(async move {
                let (mut ok, mut limited, mut retry_after) = (0u32, 0u32, Vec::new());
                let started = Instant::now();
                while started.elapsed() < flood_for {
                    let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
                    match response.status().as_u16() {
                        200 => ok += 1,
                        429 => {
                            limited += 1;
                            assert_eq!(response.headers()["content-type"], "application/problem+json");
                            let seconds: u64 =
                                response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                            retry_after.push(seconds);
                        }
                        other => panic!("the flood got {other}"),
                    }
                }
                (ok, limited, retry_after)
            })
        })
        .collect();
    // Abe reads at 10 a second, under his limit, while Mallory floods.
    let during = paced_reads(&app, &abe, 25, Duration::from_millis(100)).await;
    let (mut ok, mut limited, mut retry_after) = (0, 0, Vec::new());
    for flood in floods {
        let (o, l, r) = flood.await.unwrap();
        ok += o;
        limited += l;
        retry_after.extend(r);
    }
    let rate = f64::from(ok + limited) / flood_for.as_secs_f64();
    println!(
        "flood: {ok} served, {limited} refused ({rate:.0} requests/s); the other user's latency: \
         p50 {:?} -> {:?}, p99 {:?} -> {:?} (before -> during)",
        percentile(&baseline, 0.5),
        percentile(&during, 0.5),
        percentile(&baseline, 0.99),
        percentile(&during, 0.99),
    );
    assert!(limited > 0, "the flood was never limited");
    // The burst, then 20 a second: what the flood could get over its 3 s, with slack for timing.
    assert!(ok <= 20 + 20 * 4, "{ok} requests of the flood were served");
    assert!(retry_after.iter().all(|s| *s == 1), "Retry-After at 20 a second: {retry_after:?}");
    assert!(
        percentile(&during, 0.5) < Duration::from_millis(250),
        "the other user's median latency during the flood: {:?}",
        percentile(&during, 0.5)
    );

    // Waiting as told is enough to be served again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.get_as("/api/users/me", &mallory).await.status(), 200);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"parley_rate_limited_total{scope="user"}"#), "{metrics}");
}

#[tokio::test]
async fn a_websocket_flood_is_answered_with_rate_limited_frames_and_other_sessions_keep_receiving() {
    let app = TestApp::spawn_with(TestEnv::start().await, user_limit(5, 5)).await;
    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let id = app.create_conversation(&rita, &["abe"]).await;
    let mut rita_ws = app.ws(&rita, None).await;
    let mut abe_ws = app.ws(&abe, None).await;
    let sent = 40;
    for i in 0..sent {
        abe_ws
            .send_json(json!({"type": "message.send", "conversation_id": id, "content": format!("spam {i}"),
                "client_msg_id": format!("spam-{i}")}))
            .await;
    }
    let (mut acked, mut limited) = (Vec::new(), Vec::new());
    while acked.len() + limited.len() < sent {
        let frame = abe_ws.next_frame_where(|f| f["type"] == "ack" || f["type"] == "error").await;
        if frame["type"] == "ack" {
            acked.push(frame["client_msg_id"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(frame["code"], "rate_limited", "{frame}");
            assert!(frame["message"].as_str().unwrap().contains("retry after"), "{frame}");
            limited.push(frame["client_msg_id"].as_str().expect("names the refused send").to_owned());
        }
    }
    // The handshake took one of the burst of five.
    assert!(!limited.is_empty() && acked.len() >= 4, "acked {acked:?}, limited {limited:?}");
    assert!(acked.len() <= 5 + 5 * 3, "{} sends got through", acked.len());

    // Rita is not limited by Abe's flood, and her message reaches both sessions.
    let message = app.send_message(&rita, &id, "still here?").await;
    let seq = message["seq"].as_u64().unwrap();
    rita_ws.next_frame_where(|f| f["seq"].as_u64() == Some(seq)).await;
    abe_ws.next_frame_where(|f| f["seq"].as_u64() == Some(seq)).await;
    // A refused send changed nothing: history holds exactly the acknowledged ones (and Rita's).
    app.catch_up().await;
    let (status, history) = app.get_json(&format!("/api/conversations/{id}/messages?limit=200"), &rita).await;
    assert_eq!(status, 200, "{history}");
    let stored: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["client_msg_id"].as_str().map(str::to_owned))
        .collect();
    let mut expected = acked.clone();
    expected.sort();
    let mut stored = stored;
    stored.sort();
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn one_address_is_limited_before_authentication_and_health_checks_are_exempt() {
    let app = TestApp::spawn_with(TestEnv::start().await, |config| {
        config.limits.rate_limit_ip = 5;
        config.limits.rate_limit_ip_burst = 5;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.get("/api/users/me").await.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].contains(&429), "an unauthenticated flood is limited too: {statuses:?}");
    let limited = app.get("/api/conversations/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    for path in ["/healthz", "/readyz", "/metrics"] {
        for _ in 0..20 {
            assert_eq!(app.get(path).await.status(), 200, "{path} is exempt");
        }
    }
}
