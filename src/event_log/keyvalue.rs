//! The key-value buckets of live sessions, and the only code that knows their keys and TTL
//! headers: single-use WebSocket tickets (`PARLEY_WS_TICKETS`) and presence
//! (`PARLEY_PRESENCE`: `online.<user_token>.<instance>` per connected user and instance,
//! renewed by heartbeats and expiring by per-key TTL; `seen.<user_token>` per user). What the
//! entries mean is `live`'s business.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::kv::{self, Operation};
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::subjects::{self, PRESENCE_BUCKET, TICKETS_BUCKET};
use super::wire::format_time;
use crate::domain::UserId;

/// How long the marker left by a consumed ticket or a closed presence key stays: long enough
/// for every watcher to see it, short enough that the bucket does not fill with them.
const MARKER_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
#[error("key-value bucket {bucket}: {cause}")]
pub struct KvError {
    pub bucket: &'static str,
    pub cause: String,
}

fn kv_error(bucket: &'static str) -> impl Fn(&dyn std::fmt::Display) -> KvError {
    move |e| KvError { bucket, cause: e.to_string() }
}

/// Handles to both buckets. Cheap to clone.
#[derive(Clone)]
pub struct Buckets {
    js: async_nats::jetstream::Context,
    tickets: kv::Store,
    presence: kv::Store,
}

/// One change of a presence key, as a watcher sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum PresenceChange {
    /// A session key written or renewed at `at`.
    Renewed { user: UserId, instance: String, at: DateTime<Utc> },
    /// A session key removed at `at`: closed by its instance, or expired by its TTL.
    Removed { user: UserId, instance: String, at: DateTime<Utc> },
}

impl Buckets {
    pub async fn open(js: &async_nats::jetstream::Context) -> Result<Self, KvError> {
        let tickets = js.get_key_value(TICKETS_BUCKET).await.map_err(|e| kv_error(TICKETS_BUCKET)(&e))?;
        let presence = js.get_key_value(PRESENCE_BUCKET).await.map_err(|e| kv_error(PRESENCE_BUCKET)(&e))?;
        Ok(Self { js: js.clone(), tickets, presence })
    }

    /// Stores a ticket that expires after `ttl`. Ticket names are `[A-Za-z0-9_-]`.
    pub async fn issue_ticket(&self, ticket: &str, value: Bytes, ttl: Duration) -> Result<(), KvError> {
        self.tickets.create_with_ttl(ticket, value, ttl).await.map_err(|e| kv_error(TICKETS_BUCKET)(&e))?;
        Ok(())
    }

    /// Takes a ticket: its value the first time, `None` for an unknown, expired or already
    /// taken one. Taking is a purge that expects the ticket's revision, so of two racing
    /// redeemers exactly one wins.
    pub async fn redeem_ticket(&self, ticket: &str) -> Result<Option<Bytes>, KvError> {
        let well_formed = !ticket.is_empty()
            && ticket.len() <= 128
            && ticket.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return Ok(None);
        }
        let error = kv_error(TICKETS_BUCKET);
        let Some(entry) = self.tickets.entry(ticket).await.map_err(|e| error(&e))? else {
            return Ok(None);
        };
        if entry.operation != Operation::Put {
            return Ok(None);
        }
        match self.tickets.purge_expect_revision_with_ttl(ticket, entry.revision, MARKER_TTL).await {
            Ok(()) => Ok(Some(entry.value)),
            Err(e) => match self.tickets.entry(ticket).await {
                // Someone else took it in between.
                Ok(Some(now)) if now.revision != entry.revision => Ok(None),
                Ok(None) => Ok(None),
                _ => Err(error(&e)),
            },
        }
    }

    fn presence_subject(key: &str) -> String {
        format!("$KV.{PRESENCE_BUCKET}.{key}")
    }

    fn online_key(user: &UserId, instance: &str) -> String {
        format!("online.{}.{instance}", subjects::user_token(user))
    }

    fn seen_key(user: &UserId) -> String {
        format!("seen.{}", subjects::user_token(user))
    }

    /// Writes (or renews) the key saying `user` has a session on `instance`, expiring after
    /// `ttl` unless renewed. Returns once published; the acknowledgement is the caller's to
    /// await, so that many renewals can be in flight at once.
    pub async fn renew_online(
        &self,
        user: &UserId,
        instance: &str,
        ttl: Duration,
    ) -> Result<PublishAckFuture, KvError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-TTL", ttl.as_secs().max(1).to_string().as_str());
        let subject = Self::presence_subject(&Self::online_key(user, instance));
        self.js
            .publish_with_headers(subject, headers, Bytes::from(format_time(Utc::now())))
            .await
            .map_err(|e| kv_error(PRESENCE_BUCKET)(&e))
    }

    /// Removes the key of `user` on `instance` (their last session there closed), leaving a
    /// marker that expires by itself.
    pub async fn close_online(&self, user: &UserId, instance: &str) -> Result<PublishAckFuture, KvError> {
        let mut headers = HeaderMap::new();
        headers.insert("KV-Operation", "PURGE");
        headers.insert("Nats-Rollup", "sub");
        headers.insert("Nats-TTL", MARKER_TTL.as_secs().to_string().as_str());
        let subject = Self::presence_subject(&Self::online_key(user, instance));
        self.js
            .publish_with_headers(subject, headers, Bytes::new())
            .await
            .map_err(|e| kv_error(PRESENCE_BUCKET)(&e))
    }

    /// Records when `user` was last seen.
    pub async fn record_last_seen(
        &self,
        user: &UserId,
        at: DateTime<Utc>,
    ) -> Result<PublishAckFuture, KvError> {
        let subject = Self::presence_subject(&Self::seen_key(user));
        self.js
            .publish_with_headers(subject, HeaderMap::new(), Bytes::from(format_time(at)))
            .await
            .map_err(|e| kv_error(PRESENCE_BUCKET)(&e))
    }

    pub async fn last_seen(&self, user: &UserId) -> Result<Option<DateTime<Utc>>, KvError> {
        let value =
            self.presence.get(Self::seen_key(user)).await.map_err(|e| kv_error(PRESENCE_BUCKET)(&e))?;
        Ok(value.and_then(|v| parse_time(&v)))
    }

    /// Every session key's current state, then every change, in order.
    pub async fn watch_online(
        &self,
    ) -> Result<futures::stream::BoxStream<'static, Result<PresenceChange, KvError>>, KvError> {
        use futures::StreamExt;
        let watch = self.presence.watch("online.>").await.map_err(|e| kv_error(PRESENCE_BUCKET)(&e))?;
        Ok(Box::pin(watch.filter_map(|entry| async move {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return Some(Err(kv_error(PRESENCE_BUCKET)(&e))),
            };
            let rest = entry.key.strip_prefix("online.")?;
            let (token, instance) = rest.split_once('.')?;
            let user = subjects::parse_user_token(token)?;
            let at = DateTime::from_timestamp_nanos(entry.created.unix_timestamp_nanos() as i64);
            let instance = instance.to_owned();
            Some(Ok(match entry.operation {
                Operation::Put => {
                    PresenceChange::Renewed { user, instance, at: parse_time(&entry.value).unwrap_or(at) }
                }
                // Closed by its instance, or the server's marker when the TTL ran out.
                Operation::Purge | Operation::Delete => PresenceChange::Removed { user, instance, at },
            }))
        })))
    }
}

fn parse_time(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let text = std::str::from_utf8(bytes).ok()?;
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}
