//! The conversation aggregate: the state every rule about one conversation needs, `decide`
//! (command + state -> events or a rejection) and `evolve` (state + event -> state).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::commands::{ApplicationUpdate, ConversationCommand};
use super::events::{Actor, ConversationEvent, ConversationKind, MessageKind, ParticipantSpec};
use super::ids::{ClientMsgId, ConversationId, MessageId, Role, UserId};
use super::{Invalid, Limits, Rejection, validate};

/// Most attachments one message may reference.
pub const MAX_ATTACHMENTS: usize = 10;
/// Most distinct reactions one user may leave on one message.
pub const MAX_REACTIONS_PER_USER: usize = 20;
const MAX_TITLE_CHARS: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub role: Role,
    pub active: bool,
    pub read_up_to: u64,
    pub delivered_up_to: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MessageFacts {
    /// `None` for system messages.
    sender: Option<UserId>,
    deleted: bool,
    reactions: HashSet<(UserId, String)>,
}

/// What `decide` needs to know about one conversation, folded from its events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conversation {
    pub id: Option<ConversationId>,
    pub kind: Option<ConversationKind>,
    /// Stream sequence of the last event applied: the expectation for the next append.
    pub last_seq: u64,
    participants: BTreeMap<UserId, Participant>,
    messages: HashMap<MessageId, MessageFacts>,
    client_msg_ids: HashMap<(UserId, ClientMsgId), MessageId>,
}

/// The outcome of a command that is allowed.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Append(Vec<ConversationEvent>),
    /// Nothing to record: the command's effect is already there.
    Unchanged(Unchanged),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unchanged {
    /// A send repeated with the same `client_msg_id`: here is the original.
    AlreadySent(MessageId),
    /// The conversation exists already (a direct pair, an application).
    AlreadyExists,
    /// Already in the state asked for (reaction present, marker further on, ...).
    NothingToDo,
}

impl Conversation {
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    pub fn participant(&self, user: &UserId) -> Option<&Participant> {
        self.participants.get(user).filter(|p| p.active)
    }

    pub fn is_active_participant(&self, user: &UserId) -> bool {
        self.participant(user).is_some()
    }

    pub fn active_participants(&self) -> impl Iterator<Item = (&UserId, &Participant)> {
        self.participants.iter().filter(|(_, p)| p.active)
    }

    pub fn message_for_client_id(&self, sender: &UserId, id: &ClientMsgId) -> Option<MessageId> {
        self.client_msg_ids.get(&(sender.clone(), id.clone())).copied()
    }

    pub fn has_message(&self, id: &MessageId) -> bool {
        self.messages.contains_key(id)
    }

    /// Applies one recorded event. Only facts: no rule is checked here.
    pub fn evolve(&mut self, id: ConversationId, seq: u64, event: &ConversationEvent) {
        self.last_seq = self.last_seq.max(seq);
        match event {
            ConversationEvent::Created { kind, participants, .. } => {
                self.id = Some(id);
                self.kind = Some(*kind);
                for spec in participants {
                    self.join(&spec.user_id, spec.role);
                }
            }
            ConversationEvent::ParticipantAdded { user_id, role } => self.join(user_id, *role),
            ConversationEvent::ParticipantRemoved { user_id } => {
                if let Some(p) = self.participants.get_mut(user_id) {
                    p.active = false;
                }
            }
            ConversationEvent::MessageSent { message_id, sender_id, client_msg_id, .. } => {
                self.messages.insert(
                    *message_id,
                    MessageFacts {
                        sender: Some(sender_id.clone()),
                        deleted: false,
                        reactions: HashSet::new(),
                    },
                );
                if let Some(client_id) = client_msg_id {
                    self.client_msg_ids.insert((sender_id.clone(), client_id.clone()), *message_id);
                }
            }
            ConversationEvent::ApplicationStatusReceived { message_id, .. } => {
                self.messages.entry(*message_id).or_insert(MessageFacts {
                    sender: None,
                    deleted: false,
                    reactions: HashSet::new(),
                });
            }
            ConversationEvent::MessageEdited { .. } => {}
            ConversationEvent::MessageDeleted { message_id } => {
                if let Some(m) = self.messages.get_mut(message_id) {
                    m.deleted = true;
                    m.reactions.clear();
                }
            }
            ConversationEvent::MessagesRead { reader_id, up_to_seq } => {
                if let Some(p) = self.participants.get_mut(reader_id) {
                    p.read_up_to = p.read_up_to.max(*up_to_seq);
                    p.delivered_up_to = p.delivered_up_to.max(*up_to_seq);
                }
            }
            ConversationEvent::MessageDelivered { recipient_id, up_to_seq } => {
                if let Some(p) = self.participants.get_mut(recipient_id) {
                    p.delivered_up_to = p.delivered_up_to.max(*up_to_seq);
                }
            }
            ConversationEvent::ReactionAdded { message_id, user_id, emoji } => {
                if let Some(m) = self.messages.get_mut(message_id) {
                    m.reactions.insert((user_id.clone(), emoji.clone()));
                }
            }
            ConversationEvent::ReactionRemoved { message_id, user_id, emoji } => {
                if let Some(m) = self.messages.get_mut(message_id) {
                    m.reactions.remove(&(user_id.clone(), emoji.clone()));
                }
            }
        }
    }

    fn join(&mut self, user: &UserId, role: Role) {
        let entry = self.participants.entry(user.clone()).or_insert(Participant {
            role,
            active: true,
            read_up_to: 0,
            delivered_up_to: 0,
        });
        entry.role = role;
        entry.active = true;
    }

    /// Decides what a command means for this conversation.
    pub fn decide(
        &self,
        actor: &Actor,
        command: &ConversationCommand,
        limits: &Limits,
    ) -> Result<Decision, Rejection> {
        use ConversationCommand as C;
        if actor.role == Role::Analyst {
            return Err(Rejection::Forbidden("analysts may read the event log but not act in conversations"));
        }
        match command {
            C::Create { title, kind, participants, application_id, job_id } => {
                self.decide_create(actor, title, *kind, participants, application_id, job_id, limits)
            }
            C::RecordApplicationStatus(update) => self.decide_application_status(actor, update),
            _ => {
                // Every other command needs a conversation the actor can see.
                if !self.exists() || !self.visible_to(actor) {
                    return Err(Rejection::ConversationNotFound);
                }
                self.decide_existing(actor, command, limits)
            }
        }
    }

    fn visible_to(&self, actor: &Actor) -> bool {
        actor.role == Role::Service || self.is_active_participant(&actor.user_id)
    }

    fn decide_existing(
        &self,
        actor: &Actor,
        command: &ConversationCommand,
        limits: &Limits,
    ) -> Result<Decision, Rejection> {
        use ConversationCommand as C;
        match command {
            C::AddParticipant { user_id, role } => self.decide_add(user_id, *role, limits),
            C::RemoveParticipant { user_id } => self.decide_remove(actor, user_id),
            C::SendMessage { .. } => self.decide_send(actor, command, limits),
            C::EditMessage { message_id, content } => {
                let facts = self.message(message_id)?;
                if facts.sender.as_ref() != Some(&actor.user_id) {
                    return Err(Rejection::Forbidden("only the sender may edit a message"));
                }
                if facts.deleted {
                    return Err(Rejection::Conflict("the message is deleted"));
                }
                let content = validate::content(content, limits)?;
                Ok(append(ConversationEvent::MessageEdited { message_id: *message_id, content }))
            }
            C::DeleteMessage { message_id } => {
                let facts = self.message(message_id)?;
                let own = facts.sender.as_ref() == Some(&actor.user_id);
                if !own && actor.role != Role::Service {
                    return Err(Rejection::Forbidden("only the sender or a service may delete a message"));
                }
                if facts.deleted {
                    return Ok(Decision::Unchanged(Unchanged::NothingToDo));
                }
                Ok(append(ConversationEvent::MessageDeleted { message_id: *message_id }))
            }
            C::MarkRead { reader_id, up_to_seq } => {
                let participant = self.acting_participant(actor, reader_id)?;
                let up_to = up_to_seq.unwrap_or(self.last_seq).min(self.last_seq);
                if up_to <= participant.read_up_to {
                    return Ok(Decision::Unchanged(Unchanged::NothingToDo));
                }
                Ok(append(ConversationEvent::MessagesRead { reader_id: reader_id.clone(), up_to_seq: up_to }))
            }
            C::MarkDelivered { recipient_id, up_to_seq } => {
                let participant = self.acting_participant(actor, recipient_id)?;
                let up_to = (*up_to_seq).min(self.last_seq);
                if up_to <= participant.delivered_up_to {
                    return Ok(Decision::Unchanged(Unchanged::NothingToDo));
                }
                Ok(append(ConversationEvent::MessageDelivered {
                    recipient_id: recipient_id.clone(),
                    up_to_seq: up_to,
                }))
            }
            C::AddReaction { message_id, user_id, emoji } => {
                self.acting_participant(actor, user_id)?;
                let emoji = validate::emoji(emoji)?;
                let facts = self.message(message_id)?;
                if facts.deleted {
                    return Err(Rejection::Conflict("the message is deleted"));
                }
                if facts.reactions.contains(&(user_id.clone(), emoji.clone())) {
                    return Ok(Decision::Unchanged(Unchanged::NothingToDo));
                }
                let mine = facts.reactions.iter().filter(|(u, _)| u == user_id).count();
                if mine >= MAX_REACTIONS_PER_USER {
                    return Err(Invalid::new("emoji", "too many reactions on this message").into());
                }
                Ok(append(ConversationEvent::ReactionAdded {
                    message_id: *message_id,
                    user_id: user_id.clone(),
                    emoji,
                }))
            }
            C::RemoveReaction { message_id, user_id, emoji } => {
                self.acting_participant(actor, user_id)?;
                let facts = self.message(message_id)?;
                if !facts.reactions.contains(&(user_id.clone(), emoji.clone())) {
                    return Ok(Decision::Unchanged(Unchanged::NothingToDo));
                }
                Ok(append(ConversationEvent::ReactionRemoved {
                    message_id: *message_id,
                    user_id: user_id.clone(),
                    emoji: emoji.clone(),
                }))
            }
            C::Create { .. } | C::RecordApplicationStatus(_) => {
                unreachable!("decide routes creation commands before this point")
            }
        }
    }

    fn message(&self, id: &MessageId) -> Result<&MessageFacts, Rejection> {
        self.messages.get(id).ok_or(Rejection::MessageNotFound)
    }

    /// The participant a command acts for: the actor itself, or anyone for a service.
    fn acting_participant(&self, actor: &Actor, user: &UserId) -> Result<&Participant, Rejection> {
        if actor.role != Role::Service && &actor.user_id != user {
            return Err(Rejection::Forbidden("a user may act only for themselves"));
        }
        self.participant(user).ok_or(Rejection::Forbidden("that user does not take part in the conversation"))
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_create(
        &self,
        actor: &Actor,
        title: &Option<String>,
        kind: ConversationKind,
        participants: &[(UserId, Role)],
        application_id: &Option<super::ExternalId>,
        job_id: &Option<super::ExternalId>,
        limits: &Limits,
    ) -> Result<Decision, Rejection> {
        if actor.role != Role::Service && !participants.iter().any(|(u, _)| u == &actor.user_id) {
            return Err(Rejection::Forbidden("the creator must take part unless it is a service"));
        }
        let mut seen = HashSet::new();
        for (user, _) in participants {
            if !seen.insert(user) {
                return Err(Invalid::new("participant_ids", format!("{user} is named twice")).into());
            }
        }
        if participants.len() < 2 {
            return Err(
                Invalid::new("participant_ids", "a conversation needs at least two participants").into()
            );
        }
        if participants.len() > limits.max_participants {
            return Err(Invalid::new(
                "participant_ids",
                format!("at most {} participants", limits.max_participants),
            )
            .into());
        }
        if kind == ConversationKind::Direct && participants.len() != 2 {
            return Err(Invalid::new(
                "participant_ids",
                "a direct conversation has exactly two participants",
            )
            .into());
        }
        if participants.iter().any(|(_, role)| *role == Role::Analyst) {
            return Err(
                Invalid::new("participant_types", "analysts cannot take part in conversations").into()
            );
        }
        let title = validate::short_text("title", title.as_deref(), MAX_TITLE_CHARS)?;
        if self.exists() {
            // Name-based ids (direct pairs, applications) make a second creation find the first.
            if self.visible_to(actor) {
                return Ok(Decision::Unchanged(Unchanged::AlreadyExists));
            }
            return Err(Rejection::Conflict(
                "the conversation exists and the caller does not take part in it",
            ));
        }
        Ok(append(ConversationEvent::Created {
            title,
            kind,
            participants: participants
                .iter()
                .map(|(user_id, role)| ParticipantSpec { user_id: user_id.clone(), role: *role })
                .collect(),
            application_id: application_id.clone(),
            job_id: job_id.clone(),
            created_by: actor.user_id.clone(),
        }))
    }

    fn decide_add(&self, user: &UserId, role: Role, limits: &Limits) -> Result<Decision, Rejection> {
        if self.kind == Some(ConversationKind::Direct) {
            return Err(Rejection::Conflict("a direct conversation has exactly two participants"));
        }
        if role == Role::Analyst {
            return Err(Invalid::new("role", "analysts cannot take part in conversations").into());
        }
        if self.is_active_participant(user) {
            return Ok(Decision::Unchanged(Unchanged::NothingToDo));
        }
        if self.active_participants().count() >= limits.max_participants {
            return Err(Rejection::Conflict("the conversation has the most participants allowed"));
        }
        Ok(append(ConversationEvent::ParticipantAdded { user_id: user.clone(), role }))
    }

    fn decide_remove(&self, actor: &Actor, user: &UserId) -> Result<Decision, Rejection> {
        let leaving = &actor.user_id == user;
        let may_remove_others = matches!(actor.role, Role::Service | Role::Recruiter);
        if !leaving && !may_remove_others {
            return Err(Rejection::Forbidden("only recruiters and services may remove someone else"));
        }
        if !self.is_active_participant(user) {
            return Err(Rejection::ParticipantNotFound);
        }
        Ok(append(ConversationEvent::ParticipantRemoved { user_id: user.clone() }))
    }

    fn decide_send(
        &self,
        actor: &Actor,
        command: &ConversationCommand,
        limits: &Limits,
    ) -> Result<Decision, Rejection> {
        let ConversationCommand::SendMessage {
            message_id,
            sender_id,
            kind,
            content,
            reply_to,
            attachments,
            client_msg_id,
        } = command
        else {
            unreachable!("decide_send is called with a send");
        };
        let sender = self.acting_participant(actor, sender_id)?;
        if let Some(client_id) = client_msg_id
            && let Some(original) = self.message_for_client_id(sender_id, client_id)
        {
            return Ok(Decision::Unchanged(Unchanged::AlreadySent(original)));
        }
        if *kind == MessageKind::System {
            return Err(Invalid::new("kind", "must be text or file").into());
        }
        let content = validate::content(content, limits)?;
        if let Some(reply) = reply_to
            && !self.messages.contains_key(reply)
        {
            return Err(Invalid::new("reply_to", "must name a message in the same conversation").into());
        }
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(
                Invalid::new("attachment_ids", format!("at most {MAX_ATTACHMENTS} attachments")).into()
            );
        }
        if *kind == MessageKind::File && attachments.is_empty() {
            return Err(Invalid::new("attachment_ids", "a file message needs at least one attachment").into());
        }
        if self.messages.contains_key(message_id) {
            return Err(Rejection::Conflict("a message with this id exists"));
        }
        Ok(append(ConversationEvent::MessageSent {
            message_id: *message_id,
            sender_id: sender_id.clone(),
            sender_role: sender.role,
            kind: *kind,
            content,
            reply_to: *reply_to,
            attachments: attachments.clone(),
            client_msg_id: client_msg_id.clone(),
        }))
    }

    fn decide_application_status(
        &self,
        actor: &Actor,
        update: &ApplicationUpdate,
    ) -> Result<Decision, Rejection> {
        if actor.role != Role::Service {
            return Err(Rejection::Forbidden("only a service may record application events"));
        }
        if update.candidate_id == update.recruiter_id {
            return Err(Invalid::new("recruiter_id", "must differ from candidate_id").into());
        }
        let status = validate::short_text("status", Some(&update.status), 100)?
            .ok_or_else(|| Invalid::new("status", "must not be empty"))?;
        let job_title = validate::short_text("job_title", update.job_title.as_deref(), MAX_TITLE_CHARS)?;
        let message_id = MessageId::for_ats_event(&update.ats_event_id);
        if self.messages.contains_key(&message_id) {
            return Ok(Decision::Unchanged(Unchanged::NothingToDo));
        }
        let mut events = Vec::new();
        if !self.exists() {
            // Any event of an application opens its conversation, so a lost or late
            // `submitted` does not strand the ones after it.
            events.push(ConversationEvent::Created {
                title: job_title.clone(),
                kind: ConversationKind::Group,
                participants: vec![
                    ParticipantSpec { user_id: update.candidate_id.clone(), role: Role::Applicant },
                    ParticipantSpec { user_id: update.recruiter_id.clone(), role: Role::Recruiter },
                ],
                application_id: Some(update.application_id.clone()),
                job_id: update.job_id.clone(),
                created_by: actor.user_id.clone(),
            });
        }
        let update = ApplicationUpdate { status, job_title, ..update.clone() };
        events.push(ConversationEvent::ApplicationStatusReceived {
            message_id,
            text: update.text(),
            ats_event_id: update.ats_event_id,
            change: update.change,
            application_id: update.application_id,
            job_id: update.job_id,
            job_title: update.job_title,
            candidate_id: update.candidate_id,
            recruiter_id: update.recruiter_id,
            status: update.status,
            ats_occurred_at: update.occurred_at,
        });
        Ok(Decision::Append(events))
    }
}

fn append(event: ConversationEvent) -> Decision {
    Decision::Append(vec![event])
}

#[cfg(test)]
#[path = "conversation_tests.rs"]
mod tests;
