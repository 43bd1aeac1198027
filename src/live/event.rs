//! One stored event as live delivery sees it: its sequence, its conversation, whom it makes
//! or stops being a participant, and its frame (serialised once, on first use, and shared by
//! every session that receives it). `Route` is the one rule deciding whether a session
//! receives an event; the hub (live) and resume (from the log) both apply it, so a session
//! sees the same events whichever path brought them.

use std::collections::HashSet;
use std::sync::OnceLock;

use axum::extract::ws::Utf8Bytes;

use super::frames;
use crate::domain::{ConversationEvent, ConversationId, Envelope, Event, UserId};
use crate::event_log::RawEvent;

pub struct LiveEvent {
    pub seq: u64,
    envelope: Option<Envelope>,
    frame: OnceLock<Option<Utf8Bytes>>,
}

impl LiveEvent {
    pub fn from_raw(raw: &RawEvent) -> Self {
        let envelope = match raw.decode() {
            Ok(envelope) => Some(envelope),
            Err(e) => {
                // The projector dead-letters it too; sessions skip it.
                tracing::warn!(seq = raw.seq, error = %e, "live delivery skips an undecodable event");
                None
            }
        };
        Self { seq: raw.seq, envelope, frame: OnceLock::new() }
    }

    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// The conversation event, if this is one that decoded.
    pub fn conversation_event(&self) -> Option<(ConversationId, &ConversationEvent)> {
        match &self.envelope.as_ref()?.event {
            Event::Conversation(id, event) => Some((*id, event)),
            Event::User(..) => None,
        }
    }

    pub fn conversation(&self) -> Option<ConversationId> {
        self.conversation_event().map(|(id, _)| id)
    }

    /// The frame every recipient gets; `None` for events clients are not sent.
    pub fn frame(&self) -> Option<&Utf8Bytes> {
        self.frame.get_or_init(|| frames::event_frame(self.seq, self.envelope.as_ref()?)).as_ref()
    }

    /// Users this event makes participants of its conversation.
    pub fn joined(&self) -> &[crate::domain::ParticipantSpec] {
        match self.conversation_event() {
            Some((_, ConversationEvent::Created { participants, .. })) => participants,
            _ => &[],
        }
    }

    /// Whether this event makes `user` a participant.
    pub fn joins(&self, user: &UserId) -> bool {
        match self.conversation_event() {
            Some((_, ConversationEvent::ParticipantAdded { user_id, .. })) => user_id == user,
            Some((_, ConversationEvent::Created { participants, .. })) => {
                participants.iter().any(|p| &p.user_id == user)
            }
            _ => false,
        }
    }

    /// The user this event adds, if it adds one (creation is `joined`).
    pub fn added(&self) -> Option<&UserId> {
        match self.conversation_event() {
            Some((_, ConversationEvent::ParticipantAdded { user_id, .. })) => Some(user_id),
            _ => None,
        }
    }

    /// The user this event removes, who still receives it.
    pub fn removed(&self) -> Option<&UserId> {
        match self.conversation_event() {
            Some((_, ConversationEvent::ParticipantRemoved { user_id })) => Some(user_id),
            _ => None,
        }
    }

    /// Whether `user`'s unread count may change with this event.
    pub fn moves_unread_of(&self, user: &UserId) -> bool {
        match self.conversation_event() {
            Some((_, ConversationEvent::MessageSent { sender_id, .. })) => sender_id != user,
            Some((_, ConversationEvent::ApplicationStatusReceived { .. }))
            | Some((_, ConversationEvent::MessageDeleted { .. })) => true,
            Some((_, ConversationEvent::MessagesRead { reader_id, .. })) => reader_id == user,
            Some((_, ConversationEvent::ParticipantAdded { user_id, .. })) => user_id == user,
            _ => false,
        }
    }
}

/// Which conversations a session's user takes part in, as of the last event applied, and
/// from which sequence on it is sent events.
#[derive(Clone, Debug)]
pub struct Route {
    pub user: UserId,
    pub conversations: HashSet<ConversationId>,
    /// Events at or before this sequence are applied to membership but not sent.
    pub deliver_after: u64,
}

impl Route {
    /// Applies `event` to the membership and says whether the session is sent it: every event
    /// of a conversation while the user takes part, including the one that adds them and the
    /// one that removes them.
    pub fn apply(&mut self, event: &LiveEvent) -> bool {
        let Some(conversation) = event.conversation() else {
            return false;
        };
        if event.joins(&self.user) {
            self.conversations.insert(conversation);
        }
        let member = self.conversations.contains(&conversation);
        if event.removed() == Some(&self.user) {
            self.conversations.remove(&conversation);
        }
        member && event.seq > self.deliver_after
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{Actor, EventId, MessageId, MessageKind, ParticipantSpec, Role};
    use crate::event_log::wire;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn stored(seq: u64, conversation: ConversationId, event: ConversationEvent) -> LiveEvent {
        let envelope = Envelope {
            event_id: EventId::new(),
            occurred_at: Utc::now(),
            actor: Actor { user_id: user("rita"), role: Role::Recruiter },
            event: Event::Conversation(conversation, event),
        };
        let encoded = wire::encode(&envelope);
        LiveEvent::from_raw(&RawEvent {
            seq,
            subject: encoded.subject,
            headers: Some(encoded.headers),
            payload: encoded.payload,
            stored_at: Utc::now(),
        })
    }

    fn message() -> ConversationEvent {
        ConversationEvent::MessageSent {
            message_id: MessageId::new(),
            sender_id: user("rita"),
            sender_role: Role::Recruiter,
            kind: MessageKind::Text,
            content: "hi".into(),
            reply_to: None,
            attachments: vec![],
            client_msg_id: None,
        }
    }

    fn route(user_id: &str, deliver_after: u64) -> Route {
        Route { user: user(user_id), conversations: HashSet::new(), deliver_after }
    }

    #[test]
    fn a_participant_receives_from_the_event_that_adds_them_to_the_one_that_removes_them() {
        let id = ConversationId::new();
        let mut abe = route("abe", 0);
        assert!(!abe.apply(&stored(1, id, message())), "not a participant yet");
        assert!(abe.apply(&stored(
            2,
            id,
            ConversationEvent::ParticipantAdded { user_id: user("abe"), role: Role::Applicant }
        )));
        assert!(abe.apply(&stored(3, id, message())));
        assert!(abe.apply(&stored(4, id, ConversationEvent::ParticipantRemoved { user_id: user("abe") })));
        assert!(!abe.apply(&stored(5, id, message())), "gone");
        assert!(abe.conversations.is_empty());
    }

    #[test]
    fn creation_makes_every_named_participant_a_member_and_others_hear_nothing() {
        let id = ConversationId::new();
        let created = ConversationEvent::Created {
            title: None,
            kind: crate::domain::ConversationKind::Group,
            participants: ["rita", "abe"]
                .iter()
                .map(|u| ParticipantSpec { user_id: user(u), role: Role::Applicant })
                .collect(),
            application_id: None,
            job_id: None,
            created_by: user("rita"),
        };
        let (mut abe, mut eve) = (route("abe", 0), route("eve", 0));
        let event = stored(1, id, created);
        assert!(abe.apply(&event) && !eve.apply(&event));
        let next = stored(2, id, message());
        assert!(abe.apply(&next) && !eve.apply(&next));
    }

    #[test]
    fn events_up_to_the_resume_point_change_membership_but_are_not_sent() {
        let id = ConversationId::new();
        let mut abe = route("abe", 2);
        assert!(!abe.apply(&stored(
            2,
            id,
            ConversationEvent::ParticipantAdded { user_id: user("abe"), role: Role::Applicant }
        )));
        assert!(abe.apply(&stored(3, id, message())), "a member since seq 2, sent from seq 3");
    }
}
