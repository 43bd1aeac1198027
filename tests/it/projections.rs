//! The read models against a real log: built exactly once, rebuilt row for row, unread
//! counts exact, poison events dead-lettered.

use bytes::Bytes;
use parley::commands::Outcome;
use parley::domain::{
    ApplicationChange, ConversationCommand, ConversationId, ConversationKind, ExternalId, Role,
    commands::ApplicationUpdate,
};
use parley::projections::{rebuild, schema};

use crate::harness::TestApp;
use crate::harness::scenario::*;

/// A history that touches every read model and every kind of event.
pub(crate) async fn rich_history(app: &TestApp) -> Vec<ConversationId> {
    let rita = actor("rita", Role::Recruiter);
    let abe = actor("abe", Role::Applicant);
    let cy = actor("cy.doe@example.com", Role::Applicant);
    let group = ConversationId::new();
    exec(
        app,
        &rita,
        group,
        create(ConversationKind::Group, &[("rita", Role::Recruiter), ("abe", Role::Applicant)]),
    )
    .await;
    let (hello, command) = send("rita", "Hello Abe, thanks for applying!");
    exec(app, &rita, group, command).await;
    let (_, command) = reply("abe", "Here is my CV", hello, "abe-1");
    exec(app, &abe, group, command).await;
    let (typo, command) = send("abe", "I am availble on Monday");
    exec(app, &abe, group, command).await;
    exec(
        app,
        &abe,
        group,
        ConversationCommand::EditMessage { message_id: typo, content: "I am available on Monday".into() },
    )
    .await;
    let (_, command) = reply("rita", "Noted", typo, "rita-1");
    exec(app, &rita, group, command).await;
    exec(
        app,
        &rita,
        group,
        ConversationCommand::AddParticipant { user_id: user("cy.doe@example.com"), role: Role::Applicant },
    )
    .await;
    // A reply with an attachment, deleted: its reference goes with it.
    let (oops, command) = reply("cy.doe@example.com", "Oops, wrong chat", hello, "cy-1");
    exec(app, &cy, group, command).await;
    exec(app, &cy, group, ConversationCommand::DeleteMessage { message_id: oops }).await;
    exec(app, &cy, group, ConversationCommand::RemoveParticipant { user_id: user("cy.doe@example.com") })
        .await;
    for emoji in ["👍", ":tada:"] {
        let command =
            ConversationCommand::AddReaction { message_id: hello, user_id: user("abe"), emoji: emoji.into() };
        exec(app, &abe, group, command).await;
    }
    exec(
        app,
        &abe,
        group,
        ConversationCommand::RemoveReaction {
            message_id: hello,
            user_id: user("abe"),
            emoji: ":tada:".into(),
        },
    )
    .await;
    exec(app, &abe, group, read("abe", None)).await;
    exec(app, &rita, group, ConversationCommand::MarkDelivered { recipient_id: user("rita"), up_to_seq: 5 })
        .await;

    let direct = ConversationId::direct(&user("rita"), &user("dana"));
    exec(
        app,
        &rita,
        direct,
        create(ConversationKind::Direct, &[("rita", Role::Recruiter), ("dana", Role::Applicant)]),
    )
    .await;
    let dana = actor("dana", Role::Applicant);
    for i in 0..30 {
        let (_, command) = send(if i % 3 == 0 { "dana" } else { "rita" }, &format!("message {i}"));
        exec(app, if i % 3 == 0 { &dana } else { &rita }, direct, command).await;
    }
    exec(app, &dana, direct, read("dana", Some(20))).await;

    let application = ExternalId::parse("app-77").unwrap();
    let ats = ConversationId::for_application(&application);
    let update = ApplicationUpdate {
        ats_event_id: ExternalId::parse("ats-evt-1").unwrap(),
        change: ApplicationChange::Submitted,
        application_id: application,
        job_id: Some(ExternalId::parse("job-5").unwrap()),
        job_title: Some("Platform engineer".into()),
        candidate_id: user("abe"),
        recruiter_id: user("rita"),
        status: "submitted".into(),
        occurred_at: chrono::Utc::now(),
    };
    exec(app, &service(), ats, ConversationCommand::RecordApplicationStatus(update)).await;

    for (who, name) in [("abe", "Abe Lincoln"), ("rita", "Rita Recruiter")] {
        app.state
            .commands
            .update_profile(&actor(who, Role::Applicant), &user(who), Some(name), None)
            .await
            .unwrap();
    }
    app.state.commands.update_profile(&service(), &user("rita"), None, Some(Role::Recruiter)).await.unwrap();
    vec![group, direct, ats]
}

#[tokio::test]
async fn history_unread_counts_and_profiles_follow_the_events() {
    let app = TestApp::spawn().await;
    let conversations = rich_history(&app).await;
    app.catch_up().await;
    let db = &app.state.db;
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM parley.messages WHERE conversation_id = $1")
        .bind(conversations[0].0)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(messages, 5);
    let deleted: (String, bool) =
        sqlx::query_as("SELECT content, deleted FROM parley.messages WHERE sender_id = 'cy.doe@example.com'")
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(deleted, (String::new(), true));
    let referencing: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT m.client_msg_id FROM parley.message_attachments r JOIN parley.messages m USING (message_id)
         WHERE r.conversation_id = $1 AND r.attachment_id::text = m.attachments->0->>'id' ORDER BY m.seq",
    )
    .bind(conversations[0].0)
    .fetch_all(db)
    .await
    .unwrap();
    let references: i64 =
        sqlx::query_scalar("SELECT count(*) FROM parley.message_attachments WHERE conversation_id = $1")
            .bind(conversations[0].0)
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(referencing, [Some("abe-1".into()), Some("rita-1".into())]);
    assert_eq!(references, 2, "the deleted reply's attachment is no longer referenced");
    let preview: Option<String> =
        sqlx::query_scalar("SELECT reply_preview FROM parley.messages WHERE client_msg_id = 'rita-1'")
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(preview.as_deref(), Some("I am available on Monday"), "the preview follows the edit");
    let unread: Vec<(String, i32)> = sqlx::query_as(
        "SELECT user_id, unread_count FROM parley.participants WHERE conversation_id = $1 ORDER BY user_id",
    )
    .bind(conversations[1].0)
    .fetch_all(db)
    .await
    .unwrap();
    // 30 messages, every third from dana; dana read up to the sequence of the 20th-ish event.
    assert_eq!(unread[1].0, "rita");
    assert_eq!(unread[1].1, 10, "rita never read dana's 10 messages");
    assert_eq!(unread_mismatches(db).await, vec![]);
    let name: String = sqlx::query_scalar("SELECT name FROM parley.users WHERE user_id = 'rita'")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(name, "Rita Recruiter", "a role-only update keeps the name");
    let system: serde_json::Value =
        sqlx::query_scalar("SELECT system FROM parley.messages WHERE kind = 'system'")
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(system["status"], "submitted");
}

#[tokio::test]
async fn a_rebuild_reproduces_the_live_read_models_row_for_row() {
    let app = TestApp::spawn().await;
    rich_history(&app).await;
    app.catch_up().await;
    let url = app.env.database_url.clone();
    rebuild::rebuild(&app.state.log, &url, false, |_, _| {}).await.unwrap();
    let live = snapshot(&app.state.db, schema::SCHEMA).await;
    assert!(live["messages"].len() > 30);
    assert_same(&live, &snapshot(&app.state.db, schema::REBUILD_SCHEMA).await);

    // Swapped in while the live projector runs, then more events: still exact.
    let migrated = indexes(&app.state.db, schema::SCHEMA).await;
    assert!(migrated.iter().any(|index| index.contains("USING gin")), "{migrated:#?}");
    let report = rebuild::rebuild(&app.state.log, &url, true, |_, _| {}).await.unwrap();
    assert_eq!(report.last_seq, app.state.log.last_seq().await.unwrap());
    // The rebuild builds its full-text indexes after the rows: the swapped-in tables have
    // every index the migrations create.
    assert_eq!(indexes(&app.state.db, schema::SCHEMA).await, migrated);
    rich_history(&app).await;
    app.catch_up().await;
    rebuild::rebuild(&app.state.log, &url, false, |_, _| {}).await.unwrap();
    assert_same(
        &snapshot(&app.state.db, schema::SCHEMA).await,
        &snapshot(&app.state.db, schema::REBUILD_SCHEMA).await,
    );
}

/// Every index of the tables in `schema`, as definitions without the schema's name.
async fn indexes(db: &sqlx::PgPool, schema: &str) -> Vec<String> {
    let definitions: Vec<String> =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname")
            .bind(schema)
            .fetch_all(db)
            .await
            .unwrap();
    definitions.into_iter().map(|d| d.replace(&format!(" {schema}."), " ")).collect()
}

#[tokio::test]
async fn an_undecodable_event_and_an_impossible_one_are_dead_lettered_and_later_events_still_apply() {
    let app = TestApp::spawn().await;
    let rita = actor("rita", Role::Recruiter);
    let conversation = ConversationId::new();
    exec(
        &app,
        &rita,
        conversation,
        create(ConversationKind::Group, &[("rita", Role::Recruiter), ("abe", Role::Applicant)]),
    )
    .await;

    // Garbage under a real event name, and a well-formed message for a conversation that
    // was never created.
    let js = app.state.log.jetstream();
    let mut headers = async_nats::HeaderMap::new();
    for (name, value) in [
        ("Parley-Event-Id", uuid::Uuid::new_v4().to_string()),
        ("Parley-Event-Type", "message_sent".into()),
        ("Parley-Event-Version", "1".into()),
        ("Parley-Occurred-At", "2026-11-21T10:00:00.000Z".into()),
        ("Parley-Actor", "rita".into()),
        ("Parley-Actor-Role", "recruiter".into()),
    ] {
        headers.insert(name, value.as_str());
    }
    let garbage = format!("parley.conv.{conversation}.message_sent");
    js.publish_with_headers(garbage, headers, Bytes::from_static(b"\xff\xff")).await.unwrap().await.unwrap();
    let ghost = ConversationId::new();
    let (_, command) = send("rita", "to nobody");
    let ConversationCommand::SendMessage { message_id, .. } = &command else { unreachable!() };
    app.append(
        ghost,
        &rita,
        vec![parley::domain::ConversationEvent::MessageSent {
            message_id: *message_id,
            sender_id: user("rita"),
            sender_role: Role::Recruiter,
            kind: parley::domain::MessageKind::Text,
            content: "to nobody".into(),
            reply_to: None,
            attachments: vec![],
            client_msg_id: None,
        }],
    )
    .await;
    let (_, command) = send("rita", "still delivered");
    let Outcome::Appended { last_seq, .. } = exec(&app, &rita, conversation, command).await else { panic!() };
    app.catch_up().await;

    let letters: Vec<(i64, Option<String>, String)> =
        sqlx::query_as("SELECT seq, event_type, reason FROM parley.dead_letters ORDER BY seq")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(letters[0].2.contains("message_sent"), "{letters:?}");
    assert!(letters[1].2.contains("messages_conversation_id_fkey"), "{letters:?}");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM parley.messages WHERE seq = $1")
        .bind(last_seq as i64)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(applied, 1);
    let status = parley::projections::status(&app.state.log, &app.state.db).await.unwrap();
    assert_eq!((status[0].dead_letters, status[0].lag), (2, 0));
    assert_eq!(status[0].copied_up_to, Some(last_seq), "the copy reaches the tip");
}

#[tokio::test]
async fn receipts_among_messages_count_as_one_at_a_time_and_a_stranger_s_receipt_is_dead_lettered() {
    use parley::domain::ConversationEvent as E;
    let app = TestApp::spawn().await;
    let rita = actor("rita", Role::Recruiter);
    let conversation = ConversationId::new();
    let Outcome::Appended { last_seq: created, .. } = exec(
        &app,
        &rita,
        conversation,
        create(
            ConversationKind::Group,
            &[("rita", Role::Recruiter), ("abe", Role::Applicant), ("cy", Role::Applicant)],
        ),
    )
    .await
    else {
        panic!("not created")
    };
    let message = |from: &str| E::MessageSent {
        message_id: parley::domain::MessageId::new(),
        sender_id: user(from),
        sender_role: Role::Applicant,
        kind: parley::domain::MessageKind::Text,
        content: format!("from {from}"),
        reply_to: None,
        attachments: vec![],
        client_msg_id: None,
    };
    let (m1, m2) = (created + 1, created + 2);
    // One append: the projector and a rebuild see these as one run of bulk-applied events.
    app.append(
        conversation,
        &rita,
        vec![
            message("rita"),
            message("abe"),
            E::MessagesRead { reader_id: user("abe"), up_to_seq: m2 },
            E::MessagesRead { reader_id: user("zed"), up_to_seq: m1 },
            E::MessageDelivered { recipient_id: user("cy"), up_to_seq: m2 },
            message("rita"),
            E::MessagesRead { reader_id: user("cy"), up_to_seq: m1 },
        ],
    )
    .await;
    app.catch_up().await;

    let letters: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, reason FROM parley.dead_letters ORDER BY seq")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].0, created as i64 + 4, "{letters:?}");
    let rows: Vec<(String, i32, i64, i64)> = sqlx::query_as(
        "SELECT user_id, unread_count, last_read_seq, last_delivered_seq FROM parley.participants
         WHERE conversation_id = $1 ORDER BY user_id",
    )
    .bind(conversation.0)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let (m1, m2) = (m1 as i64, m2 as i64);
    assert_eq!(
        rows,
        vec![("abe".into(), 1, m2, m2), ("cy".into(), 2, m1, m2), ("rita".into(), 1, 0, 0)],
        "abe read everything before the last message; cy read the first of three, was delivered two"
    );
    assert!(unread_mismatches(&app.state.db).await.is_empty());
    // A rebuild applies the whole log as one batch: the same rows.
    let url = app.env.database_url.clone();
    rebuild::rebuild(&app.state.log, &url, false, |_, _| {}).await.unwrap();
    assert_same(
        &snapshot(&app.state.db, schema::SCHEMA).await,
        &snapshot(&app.state.db, schema::REBUILD_SCHEMA).await,
    );
}

#[tokio::test]
async fn writers_can_wait_until_their_event_is_visible() {
    let app = TestApp::spawn().await;
    let rita = actor("rita", Role::Recruiter);
    let conversation = ConversationId::new();
    let outcome = exec(
        &app,
        &rita,
        conversation,
        create(ConversationKind::Group, &[("rita", Role::Recruiter), ("abe", Role::Applicant)]),
    )
    .await;
    let visible = app
        .state
        .progress
        .wait_for(outcome.visible_at(), std::time::Duration::from_secs(10), &app.state.db)
        .await;
    assert!(visible);
    let found: i64 =
        sqlx::query_scalar("SELECT count(*) FROM parley.conversations WHERE conversation_id = $1")
            .bind(conversation.0)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(found, 1, "visible means readable");
    let never =
        app.state.progress.wait_for(1_000_000, std::time::Duration::from_millis(300), &app.state.db).await;
    assert!(!never);
}

#[tokio::test]
async fn a_gap_the_reader_read_through_is_skipped_and_one_it_did_not_read_is_refused() {
    use parley::projections::checkpoint::{BatchError, Item, commit_items};
    let env = crate::harness::TestEnv::start().await;
    let mut conn = schema::fresh_schema(&env.database_url, "gaps").await.unwrap();
    let letter = |seq| Item::DeadLetter {
        seq,
        subject: "parley.conv.x.message_sent".into(),
        event_type: None,
        reason: "test".into(),
    };
    assert_eq!(commit_items(&mut conn, 0, &[letter(1), letter(2)], 1, false).await.unwrap(), 2);
    // The reader started at 3 and first met 5: 3 and 4 are not in the log (erased).
    assert_eq!(commit_items(&mut conn, 0, &[letter(5), letter(7)], 3, false).await.unwrap(), 7);
    // A reader that started at 10 never looked at 8 and 9.
    let refused = commit_items(&mut conn, 0, &[letter(10)], 10, false).await;
    assert!(matches!(refused, Err(BatchError::Gap { checkpoint: 7, first: 10 })), "{refused:?}");
}
