//! Catching a session up, then switching it to live without a gap or a duplicate.
//!
//! 1. Wait (bounded) until the read models include the stream's tip at connect time, then
//!    read the user's memberships and the checkpoint they are exact for, in one snapshot.
//! 2. With `since` before that checkpoint: replay the log from `since + 1` to the checkpoint,
//!    limited to the conversations the user took part in during that span, applying every
//!    membership event on the way (`Route`), so the set of conversations at the end is the
//!    user's as of the checkpoint.
//! 3. Attach to the hub at the checkpoint. If the hub has dispatched further, the events in
//!    between come from its recent events (or the log) first. Every step is by sequence,
//!    so each event is sent once.
//!
//! Without `since`, the session is sent what is appended after it connected.

use std::collections::HashSet;

use super::Live;
use super::event::{LiveEvent, Route};
use super::hub::{Attached, Attachment};
use super::session::send;
use crate::domain::{ConversationId, UserId};
use crate::event_log::{ReadError, subjects};
use crate::queries::live::memberships;

/// Conversations named one by one in a replay's filter; beyond this the replay reads every
/// conversation event and filters in process (a consumer with thousands of filters is slower).
const MAX_FILTERS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Log(#[from] ReadError),
    #[error("reading memberships: {0}")]
    Database(#[from] sqlx::Error),
}

/// What happened to the session while catching up.
enum Progress {
    Sent,
    Closing,
}

/// Catches `session` up and makes it live. `tip` is the stream's last sequence when the
/// session was established: without `since`, everything after it is sent.
pub async fn resume(
    live: &Live,
    session: &Attachment,
    user: &UserId,
    since: Option<u64>,
    tip: u64,
) -> Result<(), ResumeError> {
    live.progress.wait_for(tip, live.resume_wait, &live.db).await;
    let deliver_after = since.unwrap_or(tip);
    let (checkpoint, rows) = memberships(&live.db, user, deliver_after).await?;
    let mut route;
    if deliver_after < checkpoint {
        let member_at_start = rows
            .iter()
            .filter(|r| r.joined_seq <= deliver_after && r.left_seq.is_none_or(|left| left > deliver_after));
        route = Route {
            user: user.clone(),
            conversations: member_at_start.map(|r| ConversationId(r.conversation_id)).collect(),
            deliver_after,
        };
        let candidates: HashSet<ConversationId> =
            rows.iter().map(|r| ConversationId(r.conversation_id)).collect();
        if !candidates.is_empty()
            && let Progress::Closing =
                replay(live, session, &mut route, &candidates, deliver_after, checkpoint, false).await?
        {
            return Ok(());
        }
    } else {
        // Members as of the checkpoint: a partition ahead of it may already show a later join
        // (replayed from the hub below, which adds it) or leave (whose events before the
        // leave the hub still delivers).
        let current = rows
            .iter()
            .filter(|r| r.joined_seq <= checkpoint && r.left_seq.is_none_or(|left| left > checkpoint));
        route = Route {
            user: user.clone(),
            conversations: current.map(|r| ConversationId(r.conversation_id)).collect(),
            deliver_after,
        };
    }
    let mut at = checkpoint;
    loop {
        match live.hub.attach(session, &mut route, at) {
            Attached::Live | Attached::Closed => return Ok(()),
            Attached::CatchUp(events) => {
                for event in &events {
                    if let Progress::Closing = deliver(live, session, &mut route, event, true).await {
                        return Ok(());
                    }
                    at = event.seq;
                }
            }
            Attached::ReadLog(to) => {
                let everything = HashSet::new();
                if let Progress::Closing =
                    replay(live, session, &mut route, &everything, at, to, true).await?
                {
                    return Ok(());
                }
                at = to;
            }
        }
    }
}

/// Sends `event` if the route lets it through; events that happened after the session
/// connected (`live`) also get their `unread` frames.
async fn deliver(
    live: &Live,
    session: &Attachment,
    route: &mut Route,
    event: &LiveEvent,
    fresh: bool,
) -> Progress {
    if route.apply(event)
        && let Some(frame) = event.frame()
    {
        if !send(session, frame.clone()).await {
            return Progress::Closing;
        }
        if fresh
            && let Some(conversation) = event.conversation()
            && event.moves_unread_of(&route.user)
        {
            live.hub.hint(&route.user, conversation, event.seq);
        }
    }
    Progress::Sent
}

/// Sends the events after `after` up to `to` of `conversations` (every conversation when
/// empty) that `route` lets through.
async fn replay(
    live: &Live,
    session: &Attachment,
    route: &mut Route,
    conversations: &HashSet<ConversationId>,
    after: u64,
    to: u64,
    fresh: bool,
) -> Result<Progress, ResumeError> {
    if to <= after {
        return Ok(Progress::Sent);
    }
    let filters: Vec<String> = if conversations.is_empty() || conversations.len() > MAX_FILTERS {
        vec![subjects::ALL_CONVERSATION_EVENTS.to_owned()]
    } else {
        conversations.iter().map(subjects::conversation_filter).collect()
    };
    let mut reader = live.log.read(&filters, after + 1, Some(to)).await?;
    while let Some(raw) = reader.next().await {
        let event = LiveEvent::from_raw(&raw?);
        if let Progress::Closing = deliver(live, session, route, &event, fresh).await {
            return Ok(Progress::Closing);
        }
    }
    metrics::counter!("parley_ws_resumes_total").increment(1);
    Ok(Progress::Sent)
}
