//! WebSocket tickets for browsers, which cannot set headers on a WebSocket request: a
//! random name, valid once, on any instance, for a short time, standing for the principal
//! that asked for it. Kept in the `PARLEY_WS_TICKETS` bucket with a per-key TTL; redeeming
//! takes it atomically, so a replayed ticket is refused.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::domain::{Role, UserId};
use crate::event_log::keyvalue::{Buckets, KvError};

#[derive(Serialize, Deserialize)]
struct Stored {
    user_id: String,
    role: String,
    name: Option<String>,
    /// When the token the ticket was issued for expires.
    expires_at: DateTime<Utc>,
    /// When the ticket stops being valid (the bucket's TTL is the backstop).
    valid_until: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Tickets {
    buckets: Buckets,
    ttl: Duration,
}

impl Tickets {
    pub fn new(buckets: Buckets, ttl: Duration) -> Self {
        Self { buckets, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A fresh ticket for `principal`.
    pub async fn issue(&self, principal: &Principal) -> Result<String, KvError> {
        let mut random = [0u8; 24];
        getrandom::fill(&mut random)
            .map_err(|e| KvError { bucket: "PARLEY_WS_TICKETS", cause: e.to_string() })?;
        let ticket: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let valid_until = Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        let stored = Stored {
            user_id: principal.user_id.to_string(),
            role: principal.role.as_str().to_owned(),
            name: principal.name.clone(),
            expires_at: principal.expires_at,
            valid_until: valid_until.min(principal.expires_at),
        };
        let value = Bytes::from(serde_json::to_vec(&stored).unwrap_or_default());
        self.buckets.issue_ticket(&ticket, value, self.ttl).await?;
        Ok(ticket)
    }

    /// The principal a ticket stands for, once; `None` for an unknown, used or expired one.
    pub async fn redeem(&self, ticket: &str) -> Result<Option<Principal>, KvError> {
        let Some(value) = self.buckets.redeem_ticket(ticket).await? else {
            return Ok(None);
        };
        let Ok(stored) = serde_json::from_slice::<Stored>(&value) else {
            return Ok(None);
        };
        if stored.valid_until <= Utc::now() {
            return Ok(None);
        }
        let (Ok(user_id), Ok(role)) = (UserId::parse(&stored.user_id), Role::parse(&stored.role)) else {
            return Ok(None);
        };
        Ok(Some(Principal { user_id, role, name: stored.name, expires_at: stored.expires_at }))
    }
}
