//! Given/when/then tests of the conversation rules: given these events, when this command,
//! then these events (or this rejection).

use chrono::Utc;

use super::*;
use crate::domain::commands::ApplicationUpdate;
use crate::domain::events::{ApplicationChange, AttachmentRef};
use crate::domain::{AttachmentId, ExternalId};

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn actor(id: &str, role: Role) -> Actor {
    Actor { user_id: user(id), role }
}

fn recruiter() -> Actor {
    actor("rita", Role::Recruiter)
}

fn applicant() -> Actor {
    actor("abe", Role::Applicant)
}

fn service() -> Actor {
    actor("ats", Role::Service)
}

fn conv_id() -> ConversationId {
    ConversationId(uuid::Uuid::from_u128(1))
}

fn given(events: &[ConversationEvent]) -> Conversation {
    let mut state = Conversation::default();
    for (i, event) in events.iter().enumerate() {
        state.evolve(conv_id(), i as u64 + 1, event);
    }
    state
}

fn created() -> ConversationEvent {
    ConversationEvent::Created {
        title: Some("Backend role".into()),
        kind: ConversationKind::Group,
        participants: vec![
            ParticipantSpec { user_id: user("rita"), role: Role::Recruiter },
            ParticipantSpec { user_id: user("abe"), role: Role::Applicant },
        ],
        application_id: None,
        job_id: None,
        created_by: user("rita"),
    }
}

fn sent(id: u128, sender: &str, client_id: Option<&str>) -> ConversationEvent {
    ConversationEvent::MessageSent {
        message_id: MessageId(uuid::Uuid::from_u128(id)),
        sender_id: user(sender),
        sender_role: if sender == "rita" { Role::Recruiter } else { Role::Applicant },
        kind: MessageKind::Text,
        content: "hello".into(),
        reply_to: None,
        attachments: vec![],
        client_msg_id: client_id.map(|c| ClientMsgId::parse(c).unwrap()),
    }
}

fn send(sender: &str, content: &str, client_id: Option<&str>) -> ConversationCommand {
    ConversationCommand::SendMessage {
        message_id: MessageId(uuid::Uuid::from_u128(99)),
        sender_id: user(sender),
        kind: MessageKind::Text,
        content: content.into(),
        reply_to: None,
        attachments: vec![],
        client_msg_id: client_id.map(|c| ClientMsgId::parse(c).unwrap()),
    }
}

fn when(state: &Conversation, who: &Actor, command: ConversationCommand) -> Result<Decision, Rejection> {
    state.decide(who, &command, &Limits::default())
}

fn mid(id: u128) -> MessageId {
    MessageId(uuid::Uuid::from_u128(id))
}

#[test]
fn creating_a_conversation_records_who_takes_part() {
    let state = given(&[]);
    let decision = when(
        &state,
        &recruiter(),
        ConversationCommand::Create {
            title: Some("  Backend role ".into()),
            kind: ConversationKind::Group,
            participants: vec![(user("rita"), Role::Recruiter), (user("abe"), Role::Applicant)],
            application_id: None,
            job_id: None,
        },
    );
    assert_eq!(decision, Ok(Decision::Append(vec![created()])));
}

#[test]
fn a_creator_who_is_not_a_service_must_take_part() {
    let decision = when(
        &given(&[]),
        &recruiter(),
        ConversationCommand::Create {
            title: None,
            kind: ConversationKind::Group,
            participants: vec![(user("x"), Role::Applicant), (user("y"), Role::Applicant)],
            application_id: None,
            job_id: None,
        },
    );
    assert!(matches!(decision, Err(Rejection::Forbidden(_))));
}

#[test]
fn participant_lists_with_duplicates_or_one_member_are_invalid() {
    for participants in [
        vec![(user("rita"), Role::Recruiter), (user("rita"), Role::Recruiter)],
        vec![(user("rita"), Role::Recruiter)],
    ] {
        let decision = when(
            &given(&[]),
            &recruiter(),
            ConversationCommand::Create {
                title: None,
                kind: ConversationKind::Group,
                participants,
                application_id: None,
                job_id: None,
            },
        );
        assert!(matches!(decision, Err(Rejection::Invalid(ref i)) if i.field == "participant_ids"));
    }
}

#[test]
fn a_direct_conversation_has_exactly_two_participants() {
    let decision = when(
        &given(&[]),
        &recruiter(),
        ConversationCommand::Create {
            title: None,
            kind: ConversationKind::Direct,
            participants: vec![
                (user("rita"), Role::Recruiter),
                (user("abe"), Role::Applicant),
                (user("cy"), Role::Applicant),
            ],
            application_id: None,
            job_id: None,
        },
    );
    assert!(matches!(decision, Err(Rejection::Invalid(_))));
}

#[test]
fn creating_an_existing_conversation_again_finds_it() {
    let state = given(&[created()]);
    let decision = when(
        &state,
        &applicant(),
        ConversationCommand::Create {
            title: None,
            kind: ConversationKind::Direct,
            participants: vec![(user("rita"), Role::Recruiter), (user("abe"), Role::Applicant)],
            application_id: None,
            job_id: None,
        },
    );
    assert_eq!(decision, Ok(Decision::Unchanged(Unchanged::AlreadyExists)));
}

#[test]
fn a_participant_sends_a_trimmed_message() {
    let state = given(&[created()]);
    let decision = when(&state, &applicant(), send("abe", "  hello  ", Some("c1"))).unwrap();
    let Decision::Append(events) = decision else { panic!("expected events") };
    let ConversationEvent::MessageSent { content, sender_role, .. } = &events[0] else {
        panic!("expected a message")
    };
    assert_eq!(content, "hello");
    assert_eq!(*sender_role, Role::Applicant);
}

#[test]
fn sending_after_leaving_is_rejected_as_not_found() {
    let state = given(&[created(), ConversationEvent::ParticipantRemoved { user_id: user("abe") }]);
    let decision = when(&state, &applicant(), send("abe", "hi", None));
    assert_eq!(decision, Err(Rejection::ConversationNotFound));
}

#[test]
fn a_stranger_cannot_learn_that_a_conversation_exists() {
    let state = given(&[created()]);
    let stranger = actor("eve", Role::Applicant);
    assert_eq!(when(&state, &stranger, send("eve", "hi", None)), Err(Rejection::ConversationNotFound));
}

#[test]
fn an_applicant_cannot_send_as_someone_else() {
    let state = given(&[created()]);
    let decision = when(&state, &applicant(), send("rita", "hi", None));
    assert!(matches!(decision, Err(Rejection::Forbidden(_))));
}

#[test]
fn a_service_may_send_on_behalf_of_a_participant() {
    let state = given(&[created()]);
    let decision = when(&state, &service(), send("rita", "hi", None));
    assert!(matches!(decision, Ok(Decision::Append(_))));
}

#[test]
fn a_repeated_client_msg_id_returns_the_original_message() {
    let state = given(&[created(), sent(7, "abe", Some("c1"))]);
    let decision = when(&state, &applicant(), send("abe", "hello again", Some("c1")));
    assert_eq!(decision, Ok(Decision::Unchanged(Unchanged::AlreadySent(mid(7)))));
}

#[test]
fn the_same_client_msg_id_from_another_sender_is_a_new_message() {
    let state = given(&[created(), sent(7, "abe", Some("c1"))]);
    let decision = when(&state, &recruiter(), send("rita", "hello", Some("c1")));
    assert!(matches!(decision, Ok(Decision::Append(_))));
}

#[test]
fn a_reply_must_name_a_message_of_the_same_conversation() {
    let state = given(&[created(), sent(7, "abe", None)]);
    let mut command = send("rita", "re", None);
    if let ConversationCommand::SendMessage { reply_to, .. } = &mut command {
        *reply_to = Some(mid(8));
    }
    assert!(
        matches!(when(&state, &recruiter(), command.clone()), Err(Rejection::Invalid(ref i)) if i.field == "reply_to")
    );
    if let ConversationCommand::SendMessage { reply_to, .. } = &mut command {
        *reply_to = Some(mid(7));
    }
    assert!(matches!(when(&state, &recruiter(), command), Ok(Decision::Append(_))));
}

#[test]
fn a_file_message_needs_an_attachment_and_at_most_ten() {
    let state = given(&[created()]);
    let mut command = send("abe", "cv.pdf", None);
    if let ConversationCommand::SendMessage { kind, .. } = &mut command {
        *kind = MessageKind::File;
    }
    assert!(matches!(when(&state, &applicant(), command.clone()), Err(Rejection::Invalid(_))));
    let attachment = AttachmentRef {
        id: AttachmentId(uuid::Uuid::from_u128(5)),
        name: "cv.pdf".into(),
        content_type: "application/pdf".into(),
        size: 10,
    };
    if let ConversationCommand::SendMessage { attachments, .. } = &mut command {
        *attachments = vec![attachment.clone(); 11];
    }
    assert!(matches!(when(&state, &applicant(), command.clone()), Err(Rejection::Invalid(_))));
    if let ConversationCommand::SendMessage { attachments, .. } = &mut command {
        *attachments = vec![attachment];
    }
    assert!(matches!(when(&state, &applicant(), command), Ok(Decision::Append(_))));
}

#[test]
fn only_the_sender_edits_and_never_a_deleted_message() {
    let state = given(&[created(), sent(7, "abe", None)]);
    let edit = ConversationCommand::EditMessage { message_id: mid(7), content: "fixed".into() };
    assert!(matches!(when(&state, &recruiter(), edit.clone()), Err(Rejection::Forbidden(_))));
    assert_eq!(
        when(&state, &applicant(), edit.clone()),
        Ok(Decision::Append(vec![ConversationEvent::MessageEdited {
            message_id: mid(7),
            content: "fixed".into()
        }]))
    );
    let deleted =
        given(&[created(), sent(7, "abe", None), ConversationEvent::MessageDeleted { message_id: mid(7) }]);
    assert!(matches!(when(&deleted, &applicant(), edit), Err(Rejection::Conflict(_))));
}

#[test]
fn the_sender_or_a_service_deletes_and_deleting_twice_changes_nothing() {
    let state = given(&[created(), sent(7, "abe", None)]);
    let delete = ConversationCommand::DeleteMessage { message_id: mid(7) };
    assert!(matches!(when(&state, &recruiter(), delete.clone()), Err(Rejection::Forbidden(_))));
    assert!(matches!(when(&state, &service(), delete.clone()), Ok(Decision::Append(_))));
    let deleted =
        given(&[created(), sent(7, "abe", None), ConversationEvent::MessageDeleted { message_id: mid(7) }]);
    assert_eq!(when(&deleted, &applicant(), delete), Ok(Decision::Unchanged(Unchanged::NothingToDo)));
}

#[test]
fn a_read_marker_never_moves_backwards_and_never_past_the_end() {
    let state = given(&[created(), sent(7, "rita", None), sent(8, "rita", None)]);
    assert_eq!(
        when(
            &state,
            &applicant(),
            ConversationCommand::MarkRead { reader_id: user("abe"), up_to_seq: Some(50) }
        ),
        Ok(Decision::Append(vec![ConversationEvent::MessagesRead { reader_id: user("abe"), up_to_seq: 3 }]))
    );
    let read = given(&[
        created(),
        sent(7, "rita", None),
        sent(8, "rita", None),
        ConversationEvent::MessagesRead { reader_id: user("abe"), up_to_seq: 3 },
    ]);
    assert_eq!(
        when(
            &read,
            &applicant(),
            ConversationCommand::MarkRead { reader_id: user("abe"), up_to_seq: Some(2) }
        ),
        Ok(Decision::Unchanged(Unchanged::NothingToDo))
    );
}

#[test]
fn one_reaction_per_user_per_emoji() {
    let state = given(&[created(), sent(7, "rita", None)]);
    let react =
        ConversationCommand::AddReaction { message_id: mid(7), user_id: user("abe"), emoji: "👍".into() };
    assert!(matches!(when(&state, &applicant(), react.clone()), Ok(Decision::Append(_))));
    let reacted = given(&[
        created(),
        sent(7, "rita", None),
        ConversationEvent::ReactionAdded { message_id: mid(7), user_id: user("abe"), emoji: "👍".into() },
    ]);
    assert_eq!(when(&reacted, &applicant(), react), Ok(Decision::Unchanged(Unchanged::NothingToDo)));
    let bad =
        ConversationCommand::AddReaction { message_id: mid(7), user_id: user("abe"), emoji: "nope".into() };
    assert!(matches!(when(&state, &applicant(), bad), Err(Rejection::Invalid(_))));
}

#[test]
fn reacting_after_leaving_is_rejected() {
    let state = given(&[
        created(),
        sent(7, "rita", None),
        ConversationEvent::ParticipantRemoved { user_id: user("abe") },
    ]);
    let react =
        ConversationCommand::AddReaction { message_id: mid(7), user_id: user("abe"), emoji: "👍".into() };
    assert_eq!(when(&state, &applicant(), react), Err(Rejection::ConversationNotFound));
}

#[test]
fn applicants_may_leave_but_not_remove_others() {
    let state = given(&[created()]);
    assert!(matches!(
        when(&state, &applicant(), ConversationCommand::RemoveParticipant { user_id: user("rita") }),
        Err(Rejection::Forbidden(_))
    ));
    assert!(matches!(
        when(&state, &applicant(), ConversationCommand::RemoveParticipant { user_id: user("abe") }),
        Ok(Decision::Append(_))
    ));
}

#[test]
fn nobody_joins_a_direct_conversation() {
    let direct = ConversationEvent::Created {
        title: None,
        kind: ConversationKind::Direct,
        participants: vec![
            ParticipantSpec { user_id: user("rita"), role: Role::Recruiter },
            ParticipantSpec { user_id: user("abe"), role: Role::Applicant },
        ],
        application_id: None,
        job_id: None,
        created_by: user("rita"),
    };
    let state = given(&[direct]);
    assert!(matches!(
        when(
            &state,
            &recruiter(),
            ConversationCommand::AddParticipant { user_id: user("cy"), role: Role::Applicant }
        ),
        Err(Rejection::Conflict(_))
    ));
}

#[test]
fn analysts_never_act_in_conversations() {
    let state = given(&[created()]);
    let analyst = actor("ana", Role::Analyst);
    assert!(matches!(when(&state, &analyst, send("ana", "hi", None)), Err(Rejection::Forbidden(_))));
}

fn ats_update(event_id: &str, change: ApplicationChange) -> ApplicationUpdate {
    ApplicationUpdate {
        ats_event_id: ExternalId::parse(event_id).unwrap(),
        change,
        application_id: ExternalId::parse("app-1").unwrap(),
        job_id: Some(ExternalId::parse("job-9").unwrap()),
        job_title: Some("Rust engineer".into()),
        candidate_id: user("abe"),
        recruiter_id: user("rita"),
        status: "interview".into(),
        occurred_at: Utc::now(),
    }
}

#[test]
fn the_first_ats_event_opens_the_conversation_and_posts_a_system_message() {
    let decision = when(
        &given(&[]),
        &service(),
        ConversationCommand::RecordApplicationStatus(ats_update("e1", ApplicationChange::Submitted)),
    )
    .unwrap();
    let Decision::Append(events) = decision else { panic!("expected events") };
    assert_eq!(events.len(), 2);
    assert!(matches!(events[0], ConversationEvent::Created { .. }));
    let ConversationEvent::ApplicationStatusReceived { text, message_id, .. } = &events[1] else {
        panic!("expected the status")
    };
    assert_eq!(text, "Application submitted for Rust engineer.");
    assert_eq!(*message_id, MessageId::for_ats_event(&ExternalId::parse("e1").unwrap()));
}

#[test]
fn a_replayed_ats_event_changes_nothing() {
    let Ok(Decision::Append(events)) = when(
        &given(&[]),
        &service(),
        ConversationCommand::RecordApplicationStatus(ats_update("e1", ApplicationChange::Submitted)),
    ) else {
        panic!("expected events")
    };
    let state = given(&events);
    let again = when(
        &state,
        &service(),
        ConversationCommand::RecordApplicationStatus(ats_update("e1", ApplicationChange::Submitted)),
    );
    assert_eq!(again, Ok(Decision::Unchanged(Unchanged::NothingToDo)));
    let next = when(
        &state,
        &service(),
        ConversationCommand::RecordApplicationStatus(ats_update("e2", ApplicationChange::StatusChanged)),
    );
    let Ok(Decision::Append(events)) = next else { panic!("expected one event") };
    assert_eq!(events.len(), 1);
}

#[test]
fn only_a_service_records_ats_events() {
    let decision = when(
        &given(&[]),
        &recruiter(),
        ConversationCommand::RecordApplicationStatus(ats_update("e1", ApplicationChange::Submitted)),
    );
    assert!(matches!(decision, Err(Rejection::Forbidden(_))));
}
