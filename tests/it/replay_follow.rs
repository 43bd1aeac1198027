//! `parley replay --follow` and the binary itself: new events are written as they come, a
//! consumer lost under a running replay is replaced without losing or repeating events, the
//! command writes CSV to a file, and SIGINT ends a following replay with its output flushed.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use parley::domain::ConversationId;
use parley::event_log::{EventLog, subjects};
use parley::replay::{self, Format, Options, Progress, ReplayError, Summary};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::harness::TestEnv;
use crate::replay::{append, log_for, read_by};

/// A `Write` the test can read while the replay still holds it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

struct Following {
    out: Shared,
    progress: Arc<Progress>,
    stop: CancellationToken,
    task: JoinHandle<Result<Summary, ReplayError>>,
}

fn follow(log: &EventLog, format: Format) -> Following {
    let (out, progress, stop) = (Shared::default(), Arc::new(Progress::default()), CancellationToken::new());
    let task = tokio::spawn({
        let (js, out, progress, stop) =
            (log.jetstream().clone(), out.clone(), progress.clone(), stop.clone());
        async move {
            let options = Options { follow: true, format, ..Options::default() };
            replay::run(&js, &options, out, &progress, &stop).await
        }
    });
    Following { out, progress, stop, task }
}

impl Following {
    async fn wait_for(&self, written: u64) {
        for _ in 0..300 {
            if self.progress.written() >= written && self.progress.caught_up() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the replay did not reach {written} records:\n{}", self.out.text());
    }

    async fn stop(self) -> Summary {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the replay stops when asked")
            .unwrap()
            .unwrap()
    }
}

#[tokio::test]
async fn follow_writes_new_events_as_they_come_until_stopped() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    append(&log, conv, "rita", read_by("abe", 1)).await;
    let following = follow(&log, Format::Csv);
    following.wait_for(1).await;
    let live = append(&log, conv, "rita", read_by("abe", 2)).await;
    following.wait_for(2).await;
    let text = following.out.text();
    assert!(text.starts_with(replay::CSV_HEADER), "{text}");
    assert!(text.contains(&format!("\n{live},messages_read,1,")), "{text}");
    assert_eq!(following.stop().await.written, 2);
}

async fn replay_consumers(stream: &Stream) -> Vec<String> {
    let names = stream.consumer_names().collect::<Vec<_>>().await;
    names.into_iter().map(Result::unwrap).filter(|name| name.starts_with("replay_")).collect()
}

#[tokio::test]
async fn a_consumer_lost_under_a_following_replay_is_replaced_without_gaps_or_repeats() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    let first = append(&log, conv, "rita", read_by("abe", 1)).await;
    let following = follow(&log, Format::Json);
    following.wait_for(1).await;
    let stream = log.jetstream().get_stream(subjects::EVENTS_STREAM).await.unwrap();
    let lost = replay_consumers(&stream).await;
    assert_eq!(lost.len(), 1, "{lost:?}");
    stream.delete_consumer(&lost[0]).await.unwrap();
    let second = append(&log, conv, "rita", read_by("abe", 2)).await;
    let third = append(&log, conv, "rita", read_by("abe", 3)).await;
    following.wait_for(3).await;
    let seqs: Vec<u64> = following
        .out
        .text()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [first, second, third]);
    assert_eq!(replay_consumers(&stream).await, [format!("{}_1", lost[0])]);
    following.stop().await;
}

fn parley_replay(url: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_parley"));
    command
        .args(["replay", "--nats-url", url])
        .env_remove("PARLEY_NATS_USER")
        .env_remove("PARLEY_NATS_PASSWORD")
        .env_remove("PARLEY_NATS_CREDS")
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn the_command_writes_csv_to_a_file_and_a_summary_to_stderr() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    let seq = append(&log, conv, "rita", read_by("abe", 1)).await;
    let path = env.dir.path().join("events.csv");
    let output = parley_replay(&env.nats_url())
        .args(["--format", "csv", "--type", "messages_read", "--output"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("1 records written"), "{stderr}");
    let csv = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], replay::CSV_HEADER.trim_end());
    assert!(lines[1].starts_with(&format!("{seq},messages_read,1,")), "{csv}");
    assert!(lines[1].contains(&conv.to_string()), "{csv}");
    assert_eq!(lines.len(), 2);
}

#[tokio::test]
async fn sigint_ends_a_following_replay_cleanly_with_its_output_flushed() {
    let env = TestEnv::start().await;
    let log = log_for(env.nats_url()).await;
    let conv = ConversationId::new();
    let first = append(&log, conv, "rita", read_by("abe", 1)).await;
    let mut child = parley_replay(&env.nats_url())
        .arg("--follow")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_seq = async || {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a record in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["seq"].as_u64().unwrap()
    };
    assert_eq!(next_seq().await, first);
    let live = append(&log, conv, "rita", read_by("abe", 2)).await;
    assert_eq!(next_seq().await, live);

    let pid = child.id().unwrap() as libc::pid_t;
    // SAFETY: kill has no memory-safety preconditions; pid is our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("replay ends on SIGINT")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).await.unwrap();
    assert!(stderr.contains("2 records written"), "{stderr}");
}
