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

/// Every row of every read-model table in `schema` (see `projections::verify::snapshot`).
pub async fn snapshot(db: &PgPool, schema: &str) -> BTreeMap<&'static str, Vec<String>> {
    parley::projections::verify::snapshot(db, schema).await.expect("reading the read-model tables")
}

/// Asserts two snapshots are equal, naming the first table and row that differ.
pub fn assert_same(left: &BTreeMap<&'static str, Vec<String>>, right: &BTreeMap<&'static str, Vec<String>>) {
    let differences = parley::projections::verify::differences(left, right);
    assert!(differences.is_empty(), "read models differ: {differences:#?}");
    assert!(left.values().any(|rows| !rows.is_empty()), "both snapshots are empty: nothing was compared");
}

/// Participants whose unread count differs from a recount of the messages.
pub async fn unread_mismatches(db: &PgPool) -> Vec<(String, String, i64, i64)> {
    parley::projections::verify::unread_mismatches(db).await.expect("recounting unread messages")
}
