//! Each node's cache of verified keys, by the secret's digest (never the plaintext).
//!
//! An entry is used only while fresh (`ttl`) and never past the key's own end (expiry, or the
//! grace end of a rotated secret). Changes announced through the change feed (revocation,
//! rotation, account disabled or re-planned) drop the affected entries at once, on every node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use services::changes::Change;

use super::callers::ResolvedKey;

/// Beyond this many entries the cache drops what is stale, then everything if still full.
const CAPACITY: usize = 100_000;

struct Entry {
    key: Arc<ResolvedKey>,
    fresh_until: DateTime<Utc>,
}

pub struct KeyCache {
    entries: RwLock<HashMap<String, Entry>>,
    ttl: Duration,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self { entries: RwLock::new(HashMap::new()), ttl }
    }

    pub fn get(&self, digest: &str, now: DateTime<Utc>) -> Option<Arc<ResolvedKey>> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(digest).filter(|entry| entry.fresh_until > now).map(|entry| entry.key.clone())
    }

    pub fn insert(&self, digest: String, key: Arc<ResolvedKey>, now: DateTime<Utc>) {
        let mut fresh_until = now + self.ttl;
        if let Some(valid_until) = key.valid_until {
            fresh_until = fresh_until.min(valid_until);
        }
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, entry| entry.fresh_until > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(digest, Entry { key, fresh_until });
    }

    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// Drops every entry the change concerns.
    pub fn invalidate(&self, change: &Change) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, entry| match change {
            Change::Key { key_id } => &entry.key.key_id != key_id,
            Change::Account { account_id } => &entry.key.account_id != account_id,
            // Plans are read from the policy on every request, not from cached keys.
            Change::Catalogue => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn key(key_id: &str, account_id: &str, valid_until: Option<DateTime<Utc>>) -> Arc<ResolvedKey> {
        Arc::new(ResolvedKey {
            key_id: key_id.into(),
            account_id: account_id.into(),
            plan_id: "starter".into(),
            anchor_day: 1,
            overrides: policy::Overrides::new(),
            spend_cap_cents: None,
            valid_until,
            via_previous: false,
            restrictions: Default::default(),
        })
    }

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
    }

    #[test]
    fn entries_go_stale_after_the_ttl() {
        let cache = KeyCache::new(Duration::seconds(30));
        cache.insert("d1".into(), key("k1", "a1", None), noon());
        assert!(cache.get("d1", noon() + Duration::seconds(29)).is_some());
        assert!(cache.get("d1", noon() + Duration::seconds(30)).is_none());
    }

    #[test]
    fn an_entry_never_outlives_its_key() {
        let cache = KeyCache::new(Duration::seconds(30));
        cache.insert("d1".into(), key("k1", "a1", Some(noon() + Duration::seconds(5))), noon());
        assert!(cache.get("d1", noon() + Duration::seconds(4)).is_some());
        assert!(cache.get("d1", noon() + Duration::seconds(5)).is_none());
    }

    #[test]
    fn changes_drop_the_entries_they_concern() {
        let cache = KeyCache::new(Duration::seconds(30));
        cache.insert("d1".into(), key("k1", "a1", None), noon());
        cache.insert("d2".into(), key("k2", "a1", None), noon());
        cache.insert("d3".into(), key("k3", "a2", None), noon());
        cache.invalidate(&Change::Key { key_id: "k1".into() });
        assert!(cache.get("d1", noon()).is_none());
        assert!(cache.get("d2", noon()).is_some());
        cache.invalidate(&Change::Account { account_id: "a1".into() });
        assert!(cache.get("d2", noon()).is_none());
        assert!(cache.get("d3", noon()).is_some());
    }
}
