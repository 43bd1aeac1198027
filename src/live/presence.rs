//! Presence: whether a user has at least one connected session on any instance.
//!
//! Until WebSocket sessions exist nobody can be connected, so every user is offline; the
//! REST surface (`GET /api/users/{id}`, `GET /api/presence`) already answers through this
//! handle so that it needs no change when sessions report here.

use crate::domain::UserId;
use crate::views::PresenceView;

#[derive(Clone, Default)]
pub struct Presence {}

impl Presence {
    pub fn new() -> Self {
        Self {}
    }

    pub async fn lookup(&self, user: &UserId) -> PresenceView {
        PresenceView { user_id: user.to_string(), status: "offline".into(), last_seen: None }
    }
}
