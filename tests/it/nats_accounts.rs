//! The users of nats.conf against a real nats-server running that file: what each may do
//! works, and what each may not is refused by the server (a permissions violation naming the
//! subject) and leaves no trace in JetStream. A denial that the configuration stopped making
//! fails its test twice over: no violation arrives, and the effect is visible.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use parley::domain::ConversationId;
use parley::embedded::NatsServer;
use parley::event_log::{EventLog, streams, subjects};
use parley::replay::{self, Options, Progress};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::harness::env::nats_options;
use crate::replay::{append, read_by};

const PASSWORDS: [(&str, &str, &str); 3] = [
    ("parley", "PARLEY_NATS_PASSWORD", "parley-secret"),
    ("ats", "ATS_NATS_PASSWORD", "ats-secret"),
    ("analyst", "ANALYST_NATS_PASSWORD", "analyst-secret"),
];

fn repo_file(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(path).expect("reading a file of the repository")
}

/// nats-server running the repository's nats.conf, passwords from its environment. Two lines
/// are dropped: the monitoring listener (parallel tests would fight over port 8222) and the
/// store directory (the harness passes its own with `-sd`, which nats-server refuses beside
/// one in the file). Flags set the client port and address.
struct Secured {
    server: NatsServer,
    _dir: TempDir,
}

async fn start() -> Secured {
    let dir = tempfile::tempdir().unwrap();
    let mut conf = repo_file("nats.conf");
    for line in ["http: 0.0.0.0:8222\n", "  store_dir: /data/jetstream\n"] {
        assert!(conf.contains(line), "nats.conf changed: update this test");
        conf = conf.replace(line, "");
    }
    let path = dir.path().join("nats.conf");
    std::fs::write(&path, conf).unwrap();
    let mut options = nats_options(dir.path()).await;
    options.config_file = Some(path);
    options.env =
        PASSWORDS.iter().map(|(_, var, password)| (var.to_string(), password.to_string())).collect();
    let server = NatsServer::start(options).await.expect("nats-server starts with nats.conf");
    Secured { server, _dir: dir }
}

/// A connection as `user`, and the server errors it receives.
async fn connect(
    nats: &Secured,
    user: &str,
    inbox_prefix: &str,
) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let (password, errors_tx) =
        (PASSWORDS.iter().find(|(u, _, _)| *u == user).unwrap().2, mpsc::unbounded_channel());
    let (tx, rx) = errors_tx;
    let client = async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .custom_inbox_prefix(inbox_prefix)
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    let _ = tx.send(error.to_string());
                }
            }
        })
        .connect(nats.server.url())
        .await
        .unwrap_or_else(|e| panic!("connecting as {user}: {e}"));
    (client, rx)
}

/// Waits for the server to refuse a publish to `subject`.
async fn refused(errors: &mut mpsc::UnboundedReceiver<String>, subject: &str) {
    let wanted = format!("Permissions Violation for Publish to \"{subject}\"");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, errors.recv()).await {
            Ok(Some(error)) if error.contains(&wanted) => return,
            Ok(Some(_)) => continue,
            _ => panic!("the server did not refuse a publish to {subject}"),
        }
    }
}

fn short_timeout(client: &async_nats::Client) -> jetstream::Context {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(Duration::from_secs(1));
    js
}

async fn parley_log(nats: &Secured) -> EventLog {
    let (client, _) = connect(nats, "parley", "_INBOX").await;
    let log = EventLog::new(client);
    streams::apply(log.jetstream(), 1).await.expect("the parley user applies the streams");
    log
}

#[tokio::test]
async fn the_parley_user_runs_streams_events_buckets_and_consumers() {
    let nats = start().await;
    let anonymous = async_nats::connect(nats.server.url()).await;
    assert!(anonymous.is_err(), "a client without credentials is refused");

    let log = parley_log(&nats).await;
    let conv = ConversationId::new();
    let seq = append(&log, conv, "rita", read_by("abe", 1)).await;
    let mut reader = log.read(&[], 1, None).await.unwrap();
    assert_eq!(reader.next().await.unwrap().unwrap().seq, seq);

    let js = log.jetstream();
    let kv = js.get_key_value(subjects::PRESENCE_BUCKET).await.unwrap();
    kv.put("abe", "online".into()).await.unwrap();
    assert_eq!(kv.get("abe").await.unwrap().unwrap(), "online".as_bytes());
    let objects = js.get_object_store(subjects::ATTACHMENTS_BUCKET).await.unwrap();
    objects.put("cv.pdf", &mut &b"%PDF"[..]).await.unwrap();
    let mut object = objects.get("cv.pdf").await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut object, &mut bytes).await.unwrap();
    assert_eq!(bytes, b"%PDF");
}

#[tokio::test]
async fn the_ats_user_publishes_application_events_and_nothing_else() {
    let nats = start().await;
    let log = parley_log(&nats).await;
    let (ats, mut errors) = connect(&nats, "ats", "_INBOX_ats").await;
    let js = short_timeout(&ats);

    let ack = js
        .publish("ats.applications.a1.submitted", r#"{"event_id":"e1"}"#.into())
        .await
        .unwrap()
        .await
        .expect("the ATS event is stored");
    assert_eq!(ack.stream, subjects::ATS_STREAM);

    ats.publish("parley.conv.x.message_sent", "forged".into()).await.unwrap();
    refused(&mut errors, "parley.conv.x.message_sent").await;
    assert_eq!(log.last_seq().await.unwrap(), 0, "JetStream saw nothing");

    assert!(js.get_stream(subjects::ATS_STREAM).await.is_err());
    refused(&mut errors, "$JS.API.STREAM.INFO.ATS_EVENTS").await;
}

#[tokio::test]
async fn the_analyst_user_replays_both_streams_without_being_refused_anything() {
    let nats = start().await;
    let log = parley_log(&nats).await;
    let conv = ConversationId::new();
    let first = append(&log, conv, "rita", read_by("abe", 1)).await;
    let (ats, _) = connect(&nats, "ats", "_INBOX_ats").await;
    jetstream::new(ats)
        .publish("ats.applications.a1.withdrawn", r#"{"event_id":"e2"}"#.into())
        .await
        .unwrap()
        .await
        .unwrap();
    append(&log, conv, "rita", read_by("abe", 2)).await;

    let (analyst, mut errors) = connect(&nats, "analyst", "_INBOX_replay").await;
    let options = Options { include_ats: true, from_seq: Some(first), ..Options::default() };
    let mut out = Vec::new();
    let summary = replay::run(
        &jetstream::new(analyst),
        &options,
        &mut out,
        &Progress::default(),
        &CancellationToken::new(),
    )
    .await
    .expect("the analyst replays");
    assert_eq!(summary.written, 3);
    assert!(String::from_utf8(out).unwrap().contains("ats.withdrawn"));
    assert!(errors.try_recv().is_err(), "replay needed a denied subject");
}

#[tokio::test]
async fn the_analyst_user_can_neither_publish_nor_delete_nor_purge() {
    let nats = start().await;
    let log = parley_log(&nats).await;
    let conv = ConversationId::new();
    let seq = append(&log, conv, "rita", read_by("abe", 1)).await;
    let (analyst, mut errors) = connect(&nats, "analyst", "_INBOX_replay").await;
    let js = short_timeout(&analyst);

    let forged = subjects::conversation(&conv, "message_sent");
    for subject in [forged.as_str(), "ats.applications.a1.submitted", "anything"] {
        analyst.publish(subject.to_owned(), "x".into()).await.unwrap();
        refused(&mut errors, subject).await;
    }
    assert!(js.delete_stream(subjects::EVENTS_STREAM).await.is_err());
    refused(&mut errors, "$JS.API.STREAM.DELETE.PARLEY_EVENTS").await;
    let stream = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    assert!(stream.purge().await.is_err());
    refused(&mut errors, "$JS.API.STREAM.PURGE.PARLEY_EVENTS").await;
    assert!(js.delete_stream(subjects::ATS_STREAM).await.is_err());
    refused(&mut errors, "$JS.API.STREAM.DELETE.ATS_EVENTS").await;

    assert_eq!(log.last_seq().await.unwrap(), seq, "nothing was added or removed");
    let parley = log.jetstream();
    assert!(parley.get_stream(subjects::ATS_STREAM).await.is_ok());
}

#[tokio::test]
async fn the_analyst_user_can_neither_pull_from_nor_change_a_durable_consumer_of_parley() {
    let nats = start().await;
    let log = parley_log(&nats).await;
    // The projectors' consumers live on the partitioned copy, which the analyst cannot reach.
    let copy = log.jetstream().get_stream(subjects::PARTITIONS_STREAM).await.unwrap();
    let durable =
        pull::Config { durable_name: Some("projector_read_models_p0".into()), ..Default::default() };
    copy.create_consumer(durable.clone()).await.unwrap();
    let conv = ConversationId::new();
    for n in 1..=3 {
        append(&log, conv, "rita", read_by("abe", n)).await;
    }

    let (analyst, mut errors) = connect(&nats, "analyst", "_INBOX_replay").await;
    let copy_name = subjects::PARTITIONS_STREAM;
    for subject in [
        format!("$JS.API.STREAM.INFO.{copy_name}"),
        format!("$JS.API.CONSUMER.INFO.{copy_name}.projector_read_models_p0"),
        format!("$JS.API.CONSUMER.CREATE.{copy_name}.projector_read_models_p0"),
        format!("$JS.API.CONSUMER.CREATE.{copy_name}.projector_read_models_p0.parley.>"),
        format!("$JS.API.CONSUMER.CREATE.{copy_name}.mine"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{copy_name}.projector_read_models_p0"),
    ] {
        analyst.publish(subject.clone(), r#"{"batch":3}"#.into()).await.unwrap();
        refused(&mut errors, &subject).await;
    }
    let js = short_timeout(&analyst);
    let stream = js.get_stream_no_info(copy_name).await.unwrap();
    assert!(stream.create_consumer(pull::Config { max_deliver: 1, ..durable }).await.is_err());

    let mut ours: jetstream::consumer::PullConsumer =
        copy.get_consumer("projector_read_models_p0").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let info = loop {
        let info = ours.info().await.unwrap().clone();
        if info.num_pending == 3 || tokio::time::Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(info.delivered.stream_sequence, 0, "nothing was delivered");
    assert_eq!(info.num_pending, 3);
    assert_ne!(info.config.max_deliver, 1, "the configuration is unchanged");
}

#[test]
fn every_durable_consumer_of_parley_is_out_of_the_analyst_s_reach_in_nats_conf() {
    let conf = repo_file("nats.conf");
    let analyst = &conf[conf.find("user: analyst").expect("nats.conf has an analyst user")..];
    for (stream, name) in subjects::DURABLE_CONSUMERS {
        if [subjects::EVENTS_STREAM, subjects::ATS_STREAM].contains(stream) {
            // Streams the analyst reads: each durable consumer is denied by name.
            for subject in [
                format!("\"$JS.API.CONSUMER.CREATE.{stream}.{name}\""),
                format!("\"$JS.API.CONSUMER.CREATE.{stream}.{name}.>\""),
                format!("\"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}\""),
            ] {
                assert!(
                    analyst.contains(&subject),
                    "nats.conf must deny the analyst {subject} (see DURABLE_CONSUMERS)"
                );
            }
        } else {
            assert!(
                !analyst.contains(&format!(".{stream}")),
                "nats.conf must not let the analyst reach {stream}"
            );
        }
    }
}
