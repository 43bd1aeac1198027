//! Scale-out under failure: a 3-node NATS cluster (every stream R3), three Parley instances
//! (one in this process, two `parley serve` processes) with three projector partitions spread
//! over them, sustained sends on every instance; then the PARLEY_EVENTS stream leader is
//! killed, and one instance with it. Every acknowledged message is stored exactly once, the
//! read models equal a rebuild, and a WebSocket client of the dead instance resumes on
//! another with `since` without a gap or a duplicate.

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parley::domain::{ConversationId, Role};
use parley::event_log::{partition, subjects};
use parley::projections::verify;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::harness::cluster::NatsCluster;
use crate::harness::ws::{WsClient, connect_at};
use crate::harness::{TestApp, TestEnv};

const PARTITIONS: u32 = 3;

fn serve(env: &TestEnv, nats_url: &str, port: u16, name: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("NATS_URL", nats_url)
        .env("DATABASE_URL", &env.database_url)
        .env("PARLEY_DATA_DIR", env.dir.path().join(name))
        .env("PARLEY_JWT_SECRET", crate::harness::app::TEST_JWT_SECRET)
        .env("PARLEY_STREAM_REPLICAS", "3")
        .env("PARLEY_PROJECTOR_PARTITIONS", PARTITIONS.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting parley serve")
}

fn free_port() -> u16 {
    parley::embedded::process::free_port().expect("a free port")
}

/// Waits until `address` answers `/readyz` and reports holding `partitions` partitions.
async fn holds(http: &reqwest::Client, address: &str, partitions: u32, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let wanted = format!("parley_projector_partitions_held {partitions}");
    loop {
        if let Ok(answer) = http.get(format!("{address}/metrics")).send().await
            && let Ok(text) = answer.text().await
            && text.lines().any(|line| line == wanted)
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{address} never held {partitions} partition(s)");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Partitions `address` applies now, from its metrics.
async fn held(http: &reqwest::Client, address: &str) -> u32 {
    let text = match http.get(format!("{address}/metrics")).send().await {
        Ok(answer) => answer.text().await.unwrap_or_default(),
        Err(_) => return 0,
    };
    text.lines()
        .find_map(|line| line.strip_prefix("parley_projector_partitions_held "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Sends until `stop`, each message with its own `client_msg_id`, on the instances in turn;
/// a send that fails (dead instance, NATS electing a leader) is repeated with the same id on
/// the next one until acknowledged. Returns `client_msg_id -> seq` of every acknowledged one.
async fn sender(
    worker: usize,
    addresses: Vec<String>,
    conversations: Vec<String>,
    token: String,
    stop: Arc<AtomicBool>,
) -> HashMap<String, u64> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    let mut acked = HashMap::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = format!("w{worker}-{i}");
        let body = json!({"conversation_id": conversations[i % conversations.len()], "content": id, "client_msg_id": id});
        let mut attempt = worker + i;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let seq = loop {
            let address = &addresses[attempt % addresses.len()];
            let answer =
                http.post(format!("{address}/api/messages")).bearer_auth(&token).json(&body).send().await;
            if let Ok(answer) = answer
                && (200..=202).contains(&answer.status().as_u16())
                && let Ok(value) = answer.json::<Value>().await
                && let Some(seq) = value["seq"].as_u64()
            {
                break seq;
            }
            assert!(tokio::time::Instant::now() < deadline, "{id} was never acknowledged");
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        acked.insert(id, seq);
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acked
}

/// The sequences of the `message.sent` frames of a session, in the order received.
fn message_seqs(frames: &[Value]) -> Vec<u64> {
    frames.iter().filter(|f| f["type"] == "message.sent").filter_map(|f| f["seq"].as_u64()).collect()
}

#[tokio::test]
async fn the_stream_leader_and_an_instance_die_under_load_and_nothing_is_lost_doubled_or_skipped() {
    let env = TestEnv::start().await;
    let mut cluster = NatsCluster::start(&env.dir.path().join("cluster"), 3).await;
    let nats_url = cluster.url();
    let app = TestApp::spawn_with(env, |config| {
        config.nats_url = Some(nats_url.clone());
        config.stream_replicas = 3;
        config.projector_partitions = PARTITIONS;
    })
    .await;
    let (port_b, port_c) = (free_port(), free_port());
    let mut b = serve(&app.env, &nats_url, port_b, "b");
    let mut doomed = serve(&app.env, &nats_url, port_c, "c");
    let addresses =
        vec![app.address.clone(), format!("http://127.0.0.1:{port_b}"), format!("http://127.0.0.1:{port_c}")];
    // The partitions spread: one each.
    for address in &addresses {
        holds(&app.http, address, 1, Duration::from_secs(30)).await;
    }

    let rita = app.token("rita", Role::Recruiter);
    let abe = app.token("abe", Role::Applicant);
    let mut conversations = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    while conversations.len() < 6 || used.len() < PARTITIONS as usize {
        let id = app.create_conversation(&rita, &["abe"]).await;
        used.insert(partition::of_conversation(&ConversationId::parse(&id).unwrap(), PARTITIONS));
        conversations.push(id);
    }
    app.catch_up().await;
    let start = app.state.log.last_seq().await.unwrap();
    // Abe follows every conversation on the instance that will die.
    let first: WsClient = connect_at(&addresses[2][7..], &format!("/api/ws?since={start}"), Some(&abe)).await;
    let first_frames = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let frames = first_frames.clone();
        let mut first = first;
        tokio::spawn(async move {
            first.closed().await;
            *frames.lock().await = first.frames;
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..3)
        .map(|w| {
            tokio::spawn(sender(w, addresses.clone(), conversations.clone(), rita.clone(), stop.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before_faults = app.state.log.last_seq().await.unwrap();
    let js = app.state.log.jetstream().clone();
    // The node that leads the log and the projectors' copy of it dies.
    let leader = cluster
        .lead_together(app.state.log.client(), &js, subjects::PARTITIONS_STREAM, subjects::EVENTS_STREAM)
        .await;
    cluster.nodes[leader].kill().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    doomed.kill().expect("killing an instance");
    doomed.wait().expect("reaping it");
    // The survivors take its partition over within seconds.
    let killed_at = tokio::time::Instant::now();
    while held(&app.http, &addresses[0]).await + held(&app.http, &addresses[1]).await < PARTITIONS {
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "the dead instance's partition was not taken over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_leader = cluster.stream_leader(&js, subjects::EVENTS_STREAM).await;
    assert_ne!(new_leader, leader, "another node leads the stream");
    assert_ne!(cluster.stream_leader(&js, subjects::PARTITIONS_STREAM).await, leader, "and the copy");
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked: HashMap<String, u64> = HashMap::new();
    for sender in senders {
        acked.extend(sender.await.expect("a sender"));
    }
    // Traffic before and through the faults (a count would measure the machine's load).
    assert!(acked.len() > 20, "sustained traffic: {} messages", acked.len());
    assert!(
        acked.values().any(|&seq| seq > before_faults),
        "sends were acknowledged after the stream leader died"
    );

    // Every acknowledged message exactly once, at the sequence it was acknowledged with. When
    // the node that died led both streams, the server has taken over 30 s to copy into
    // PARLEY_EVENTS_BY_PARTITION again (2 of about 20 runs; the cause is not pinned down, its
    // source retry backoff is the suspect): the bound here is generous, the time is printed.
    let tip = app.state.log.last_seq().await.unwrap();
    let waiting = tokio::time::Instant::now();
    assert!(
        app.state.progress.wait_for(tip, Duration::from_secs(180), &app.state.db).await,
        "the projector did not reach {tip} within 180 s of the faults"
    );
    eprintln!(
        "the read models reached the tip {:.1} s after the traffic stopped",
        waiting.elapsed().as_secs_f64()
    );
    let stored: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT client_msg_id, min(seq), count(*) FROM parley.messages WHERE client_msg_id IS NOT NULL GROUP BY 1",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let stored: BTreeMap<String, (i64, i64)> =
        stored.into_iter().map(|(id, seq, n)| (id, (seq, n))).collect();
    assert_eq!(stored.len(), acked.len(), "nothing but the acknowledged messages");
    for (id, seq) in &acked {
        assert_eq!(stored.get(id), Some(&(*seq as i64, 1)), "{id} stored once at {seq}");
    }
    // The dead instance's partition was taken over; the read models equal a rebuild.
    let tip = app.state.log.last_seq().await.unwrap() as i64;
    let checkpoints: Vec<i64> =
        sqlx::query_scalar("SELECT last_seq FROM parley.projector_checkpoints ORDER BY partition")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(checkpoints, vec![tip; PARTITIONS as usize]);
    let differences =
        verify::compare_with_rebuild(&app.state.log, &app.state.db, &app.env.database_url).await.unwrap();
    assert_eq!(differences, Vec::<String>::new());
    assert_eq!(verify::unread_mismatches(&app.state.db).await.unwrap(), vec![]);

    // Abe's session died with its instance; he resumes on another with the last seq he saw.
    reader.await.expect("the first session's reader");
    let first_seqs = message_seqs(&first_frames.lock().await);
    let since = first_seqs.last().copied().unwrap_or(start);
    let mut expected: Vec<u64> = acked.values().copied().collect();
    expected.sort_unstable();
    let before: Vec<u64> = expected.iter().copied().filter(|s| *s <= since).collect();
    assert_eq!(first_seqs, before, "the first session got every message up to its end, in order, once");
    let after: Vec<u64> = expected.iter().copied().filter(|s| *s > since).collect();
    let mut resumed = connect_at(&addresses[1][7..], &format!("/api/ws?since={since}"), Some(&abe)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while message_seqs(&resumed.frames).len() < after.len() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(resumed.try_next_frame(left).await.is_some(), "the resumed session stalled");
    }
    assert_eq!(message_seqs(&resumed.frames), after, "resumed with no gap and no duplicate");
    b.kill().ok();
    b.wait().ok();
}

#[tokio::test]
async fn partitions_are_assigned_as_nats_subject_mapping_partitions_them() {
    // The server files PARLEY_EVENTS by bucket into PARLEY_EVENTS_BY_PARTITION, as
    // streams/ defines it; `partition` must agree with it conversation by conversation.
    let env = TestEnv::start().await;
    let client = async_nats::connect(env.nats_url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    parley::event_log::streams::apply(&js, 1).await.unwrap();
    let ids: Vec<ConversationId> = (0..96).map(|_| ConversationId::new()).collect();
    for id in &ids {
        js.publish(subjects::conversation(id, "message_sent"), "x".into()).await.unwrap().await.unwrap();
    }
    js.publish("parley.user.abe.user_profile_updated", "x".into()).await.unwrap().await.unwrap();
    let mut copy = js.get_stream(subjects::PARTITIONS_STREAM).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while copy.info().await.unwrap().state.messages < ids.len() as u64 + 1 {
        assert!(tokio::time::Instant::now() < deadline, "the server did not copy every event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut buckets = std::collections::BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        let stored = copy.get_raw_message(i as u64 + 1).await.unwrap();
        let bucket = partition::bucket_of_conversation(id);
        buckets.insert(bucket);
        assert_eq!(stored.subject.as_str(), format!("parley.part.{bucket}.conv.{id}.message_sent"));
        assert_eq!(partition::original_seq(Some(&stored.headers)), Some(i as u64 + 1));
        assert_eq!(
            partition::original_subject(&stored.subject).unwrap(),
            subjects::conversation(id, "message_sent")
        );
        for n in partition::COUNTS {
            assert_eq!(partition::of_conversation(id, n), bucket % n, "{n} partitions");
        }
    }
    assert!(buckets.len() > 12, "conversations spread over the buckets: {buckets:?}");
    let user = copy.get_raw_message(ids.len() as u64 + 1).await.unwrap();
    assert_eq!(user.subject.as_str(), "parley.part.0.user.abe.user_profile_updated");
}
