//! Announcements of changes that caches elsewhere must hear about: a key revoked or rotated, an
//! account disabled or re-planned, the plan catalogue edited. Services publish after their transaction commits; the server
//! fans the change out to every node (through Redis when configured) so caches drop stale
//! entries within a second.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Key {
        key_id: String,
    },
    Account {
        account_id: String,
    },
    /// An admin saved a new plan catalogue: other nodes read it from SQL.
    Catalogue,
}

pub trait ChangeFeed: Send + Sync + 'static {
    fn publish(&self, change: Change);
}

/// For tools and tests with nothing to invalidate.
pub struct NoFeed;

impl ChangeFeed for NoFeed {
    fn publish(&self, _change: Change) {}
}
