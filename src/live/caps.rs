//! How many WebSocket sessions each user holds open on this instance, so that one user (or a
//! stolen token) cannot open sessions until memory runs out. A slot is taken at the handshake,
//! before the upgrade, and given back when the session ends (its `SessionSlot` is dropped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::UserId;

#[derive(Clone)]
pub struct SessionCaps(Arc<Inner>);

struct Inner {
    /// 0: no cap.
    max: usize,
    open: Mutex<HashMap<UserId, usize>>,
}

/// One open session of a user; dropping it frees the slot.
pub struct SessionSlot {
    caps: SessionCaps,
    user: UserId,
}

impl SessionCaps {
    pub fn new(max_per_user: usize) -> Self {
        Self(Arc::new(Inner { max: max_per_user, open: Mutex::new(HashMap::new()) }))
    }

    pub fn max(&self) -> usize {
        self.0.max
    }

    fn open(&self) -> MutexGuard<'_, HashMap<UserId, usize>> {
        self.0.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot for one more session of `user`, or `None` when they hold the most allowed.
    pub fn reserve(&self, user: &UserId) -> Option<SessionSlot> {
        let mut open = self.open();
        let count = open.entry(user.clone()).or_default();
        if self.0.max > 0 && *count >= self.0.max {
            return None;
        }
        *count += 1;
        Some(SessionSlot { caps: self.clone(), user: user.clone() })
    }

    /// Sessions `user` holds open here.
    pub fn count(&self, user: &UserId) -> usize {
        self.open().get(user).copied().unwrap_or_default()
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut open = self.caps.open();
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn a_user_gets_at_most_the_cap_and_a_closed_session_frees_its_slot() {
        let caps = SessionCaps::new(2);
        let first = caps.reserve(&user("abe")).expect("first");
        let _second = caps.reserve(&user("abe")).expect("second");
        assert!(caps.reserve(&user("abe")).is_none(), "the third is refused");
        assert!(caps.reserve(&user("rita")).is_some(), "another user has their own count");
        drop(first);
        assert!(caps.reserve(&user("abe")).is_some(), "a freed slot can be taken again");
    }

    #[test]
    fn zero_means_no_cap_and_counts_are_forgotten_at_zero() {
        let caps = SessionCaps::new(0);
        let slots: Vec<_> = (0..50).map(|_| caps.reserve(&user("abe")).expect("no cap")).collect();
        assert_eq!(caps.count(&user("abe")), 50);
        drop(slots);
        assert_eq!(caps.count(&user("abe")), 0);
        assert!(caps.open().is_empty());
    }
}
