//! The outboxes this process knows to hold ends not yet in the feed ([`OutboxRelay`]).

use crate::store::keys::UserTag;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// The outboxes this process knows to hold ends not yet in the feed.
#[derive(Debug, Default)]
pub struct OutboxRelay {
    /// User tag → ends last seen in its outbox.
    pending: Mutex<HashMap<String, usize>>,
    pub(super) wake: Notify,
}

impl OutboxRelay {
    /// Ends known to wait for the feed.
    pub fn pending(&self) -> usize {
        self.with(|pending| pending.values().sum())
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, usize>) -> T) -> T {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        let mut guard = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    pub(super) fn remember(&self, tag: &UserTag, ends: usize) {
        self.with(|p| p.insert(tag.as_str().to_owned(), ends.max(1)));
    }

    pub(super) fn remember_if_new(&self, tag: &UserTag) {
        self.with(|p| {
            p.entry(tag.as_str().to_owned()).or_insert(1);
        });
    }

    pub(super) fn forget(&self, tag: &UserTag) {
        self.with(|p| p.remove(tag.as_str()));
    }

    pub(super) fn tags(&self) -> Vec<UserTag> {
        self.with(|p| p.keys().filter_map(|t| UserTag::parse(t)).collect())
    }
}
