//! A projector killed with SIGKILL in the middle of its work, then started again, leaves the
//! read models exactly as an uninterrupted run would (compared with a rebuild).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parley::domain::{
    ConversationEvent, ConversationId, ConversationKind, MessageId, MessageKind, ParticipantSpec, Role,
};
use parley::projections::{rebuild, schema};

use crate::harness::scenario::*;
use crate::harness::{TestApp, TestEnv};

fn serve(env: &TestEnv, data_dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("NATS_URL", env.nats_url())
        .env("DATABASE_URL", &env.database_url)
        .env("PARLEY_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting parley serve")
}

async fn checkpoint(db: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT last_seq FROM parley.projector_checkpoints WHERE projection = 'read_models'")
        .fetch_optional(db)
        .await
        .unwrap_or(None)
        .unwrap_or(0)
}

#[tokio::test]
async fn a_projector_killed_mid_batch_resumes_without_losing_or_doubling_anything() {
    // An app whose own projector never gets the work: it serves as the test's handle on the
    // services, and its projector is stopped at once.
    let app = TestApp::spawn().await;
    app.state.shutdown.cancel();
    let rita = actor("rita", Role::Recruiter);
    let conversation = ConversationId::new();
    let created = ConversationEvent::Created {
        title: None,
        kind: ConversationKind::Group,
        participants: ["rita", "abe", "cy"]
            .iter()
            .map(|u| ParticipantSpec { user_id: user(u), role: Role::Applicant })
            .collect(),
        application_id: None,
        job_id: None,
        created_by: user("rita"),
    };
    app.append(conversation, &rita, vec![created]).await;
    let total_messages = 12_000;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let log = app.state.log.clone();
        let rita = rita.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..total_messages).step_by(8) {
                let sender = ["rita", "abe", "cy"][i % 3];
                let event = if i % 10 == 9 {
                    ConversationEvent::MessagesRead { reader_id: user(sender), up_to_seq: i as u64 }
                } else {
                    ConversationEvent::MessageSent {
                        message_id: MessageId::new(),
                        sender_id: user(sender),
                        sender_role: Role::Applicant,
                        kind: MessageKind::Text,
                        content: format!("message {i}"),
                        reply_to: None,
                        attachments: vec![],
                        client_msg_id: None,
                    }
                };
                let envelope = parley::domain::Envelope {
                    event_id: parley::domain::EventId::new(),
                    occurred_at: chrono::Utc::now(),
                    actor: rita.clone(),
                    event: parley::domain::Event::Conversation(conversation, event),
                };
                let scope = parley::event_log::subjects::conversation_filter(&conversation);
                log.append(
                    &scope,
                    &[envelope],
                    parley::event_log::Expectation::Any,
                    &uuid::Uuid::new_v4().to_string(),
                )
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let tip = app.state.log.last_seq().await.unwrap() as i64;
    let db = &app.state.db;
    let data = app.env.dir.path().join("serve");

    let mut first = serve(&app.env, &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoint(db).await < 2_000 {
        assert!(Instant::now() < deadline, "the projector never got going");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = checkpoint(db).await;
    assert!(at_kill < tip, "killed after it finished ({at_kill} of {tip}): nothing was interrupted");

    let mut second = serve(&app.env, &data);
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoint(db).await < tip {
        assert!(Instant::now() < deadline, "the restarted projector did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();

    let messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM parley.messages").fetch_one(db).await.unwrap();
    assert_eq!(messages, (total_messages - total_messages / 10) as i64);
    assert_eq!(unread_mismatches(db).await, vec![]);
    rebuild::rebuild(&app.state.log, &app.env.database_url, false, |_, _| {}).await.unwrap();
    assert_same(&snapshot(db, schema::SCHEMA).await, &snapshot(db, schema::REBUILD_SCHEMA).await);
}
