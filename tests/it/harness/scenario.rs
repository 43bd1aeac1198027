//! Building histories through the real command path (domain rules, expected sequences), and
//! comparing read models row for row.

use std::collections::BTreeMap;

use parley::commands::Outcome;
use parley::domain::{
    Actor, AttachmentId, AttachmentRef, ClientMsgId, ConversationCommand, ConversationId, ConversationKind,
    MessageId, MessageKind, Role, UserId,
};
use sqlx::PgPool;

use super::TestApp;

pub fn user(id: &str) -> UserId {
    UserId::parse(id).expect("a valid user id")
}

pub fn actor(id: &str, role: Role) -> Actor {
    Actor { user_id: user(id), role }
}

pub fn service() -> Actor {
    actor("ats-backend", Role::Service)
}

pub async fn exec(
    app: &TestApp,
    who: &Actor,
    conversation: ConversationId,
    command: ConversationCommand,
) -> Outcome {
    app.state.commands.execute(who, conversation, &command, None).await.expect("the command is accepted")
}

pub fn create(kind: ConversationKind, people: &[(&str, Role)]) -> ConversationCommand {
    ConversationCommand::Create {
        title: Some("Senior Rust engineer".into()),
        kind,
        participants: people.iter().map(|(id, role)| (user(id), *role)).collect(),
        application_id: None,
        job_id: None,
    }
}

pub fn send(sender: &str, content: &str) -> (MessageId, ConversationCommand) {
    let id = MessageId::new();
    let command = ConversationCommand::SendMessage {
        message_id: id,
        sender_id: user(sender),
        kind: MessageKind::Text,
        content: content.into(),
        reply_to: None,
        attachments: vec![],
        client_msg_id: None,
    };
    (id, command)
}

pub fn reply(
    sender: &str,
    content: &str,
    to: MessageId,
    client_id: &str,
) -> (MessageId, ConversationCommand) {
    let id = MessageId::new();
    let command = ConversationCommand::SendMessage {
        message_id: id,
        sender_id: user(sender),
        kind: MessageKind::File,
        content: content.into(),
        reply_to: Some(to),
        attachments: vec![AttachmentRef {
            id: AttachmentId::new(),
            name: "cv.pdf".into(),
            content_type: "application/pdf".into(),
            size: 2048,
        }],
        client_msg_id: Some(ClientMsgId::parse(client_id).expect("a valid client id")),
    };
    (id, command)
}

pub fn read(reader: &str, up_to: Option<u64>) -> ConversationCommand {
    ConversationCommand::MarkRead { reader_id: user(reader), up_to_seq: up_to }
}

const TABLES: &[(&str, &str)] = &[
    ("users", "user_id"),
    ("conversations", "conversation_id"),
    ("participants", "conversation_id, user_id"),
    ("messages", "message_id"),
    ("reactions", "message_id, user_id, emoji"),
    ("message_attachments", "attachment_id, message_id"),
    ("projector_checkpoints", "projection, partition"),
    ("dead_letters", "projection, seq"),
];

/// Every row of every read-model table in `schema`, as JSON text, in key order. Only the
/// operational `dead_letters.recorded_at` is left out.
pub async fn snapshot(db: &PgPool, schema: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut tables = BTreeMap::new();
    for (table, key) in TABLES {
        let sql =
            format!("SELECT (to_jsonb(t) - 'recorded_at')::text FROM {schema}.{table} t ORDER BY {key}");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(db)
            .await
            .expect("reading a read-model table");
        tables.insert(*table, rows);
    }
    tables
}

/// Asserts two snapshots are equal, naming the first table and row that differ.
pub fn assert_same(left: &BTreeMap<&str, Vec<String>>, right: &BTreeMap<&str, Vec<String>>) {
    for (table, rows) in left {
        let other = &right[table];
        assert_eq!(rows.len(), other.len(), "{table}: {} rows vs {}", rows.len(), other.len());
        for (a, b) in rows.iter().zip(other) {
            assert_eq!(a, b, "{table} differs");
        }
    }
}

/// Unread counts recomputed from scratch: messages after both markers, not deleted, not the
/// participant's own; zero for those who left.
pub async fn recomputed_unread(db: &PgPool) -> Vec<(String, String, i64, i64)> {
    sqlx::query_as(
        "SELECT p.conversation_id::text, p.user_id, p.unread_count::int8,
                CASE WHEN p.left_seq IS NOT NULL THEN 0 ELSE (
                    SELECT count(*) FROM parley.messages m
                    WHERE m.conversation_id = p.conversation_id AND m.seq > p.last_read_seq
                      AND m.seq > p.joined_seq AND NOT m.deleted
                      AND m.sender_id IS DISTINCT FROM p.user_id) END
         FROM parley.participants p ORDER BY 1, 2",
    )
    .fetch_all(db)
    .await
    .expect("recomputing unread counts")
}
