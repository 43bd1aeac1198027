//! Turns each delivered message into its record: decodes Parley events (or reads an ATS
//! event's JSON), applies the filters only the decoded event can answer, and writes the
//! record, or an error record when the event cannot be decoded.

use std::io::Write;

use super::filter;
use super::record::{Body, Encoder, Key, Record};
use super::source::Delivered;
use super::{Options, Progress, ats};
use crate::domain::Event;
use crate::event_log::{subjects, wire};

pub(super) struct Writer<'a> {
    pub options: &'a Options,
    pub encoder: Encoder,
    pub progress: &'a Progress,
}

impl Writer<'_> {
    pub fn parley(&mut self, out: &mut impl Write, delivered: &Delivered) -> std::io::Result<()> {
        let message = &delivered.message;
        let decoded =
            wire::decode_versioned(message.subject.as_str(), message.headers.as_ref(), &message.payload);
        let (envelope, version) = match decoded {
            Ok(decoded) => decoded,
            Err(e) => return self.parley_error(out, delivered, &e.to_string()),
        };
        if let Some(user) = &self.options.user
            && !filter::names_user(&envelope.actor.user_id, &envelope.event, user)
        {
            return Ok(());
        }
        let key = match &envelope.event {
            Event::Conversation(id, _) => Key::Conversation(*id),
            Event::User(id, _) => Key::User(id),
        };
        self.write(
            out,
            &Record {
                seq: delivered.seq,
                kind: envelope.event.name(),
                version: Some(version),
                occurred_at: Some(envelope.occurred_at),
                actor: Some(&envelope.actor),
                key: Some(key),
                body: Body::Event(&envelope.event),
            },
        )
    }

    /// The record of an event that could not be decoded: whatever its headers and subject
    /// still tell, and the reason.
    fn parley_error(
        &mut self,
        out: &mut impl Write,
        delivered: &Delivered,
        reason: &str,
    ) -> std::io::Result<()> {
        self.progress.count_error();
        let message = &delivered.message;
        let subject = message.subject.as_str();
        let header =
            |name: &str| message.headers.as_ref().and_then(|h| h.get(name)).map(|v| v.as_str().to_owned());
        let kind = header(wire::HEADER_TYPE)
            .unwrap_or_else(|| subject.rsplit('.').next().unwrap_or_default().to_owned());
        let meta = wire::decode_metadata(message.headers.as_ref()).ok();
        let parsed = subjects::parse(subject);
        let key = match &parsed {
            Some((subjects::Key::Conversation(id), _)) => Some(Key::Conversation(*id)),
            Some((subjects::Key::User(id), _)) => Some(Key::User(id)),
            None => None,
        };
        self.write(
            out,
            &Record {
                seq: delivered.seq,
                kind: &kind,
                version: header(wire::HEADER_VERSION).and_then(|v| v.parse().ok()),
                occurred_at: meta.as_ref().map(|m| m.occurred_at),
                actor: meta.as_ref().map(|m| &m.actor),
                key,
                body: Body::Error(reason),
            },
        )
    }

    pub fn ats(&mut self, out: &mut impl Write, delivered: &Delivered) -> std::io::Result<()> {
        let message = &delivered.message;
        let event = ats::read(message.subject.as_str(), &message.payload, delivered.stored_at);
        if let Some(wanted) = &self.options.conversation
            && event.conversation.as_ref() != Some(wanted)
        {
            return Ok(());
        }
        if let (Some(user), Ok(json)) = (&self.options.user, &event.json)
            && !filter::ats_names_user(json, user)
        {
            return Ok(());
        }
        let body = match &event.json {
            Ok(json) => Body::Json(json),
            Err(reason) => {
                self.progress.count_error();
                Body::Error(reason)
            }
        };
        self.write(
            out,
            &Record {
                seq: delivered.seq,
                kind: &event.kind,
                version: None,
                occurred_at: Some(event.occurred_at),
                actor: None,
                key: event.conversation.map(Key::Conversation),
                body,
            },
        )
    }

    fn write(&mut self, out: &mut impl Write, record: &Record<'_>) -> std::io::Result<()> {
        self.encoder.write(out, record)?;
        self.progress.count_written();
        Ok(())
    }
}
