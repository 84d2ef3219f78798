//! The sample API's memory: created scans and exports under sequential ids, the newest
//! [`CAPACITY`] of each kind (older ones are forgotten and then answer 404).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// How many records of each kind are kept.
pub const CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct Scan {
    pub id: String,
    pub jurisdictions: Vec<&'static str>,
    pub areas: Vec<&'static str>,
    pub horizon: u32,
    pub created: Instant,
}

#[derive(Debug, Clone)]
pub struct Export {
    pub id: String,
    pub snapshot_id: &'static str,
    pub format: &'static str,
}

#[derive(Default)]
pub struct Store {
    scans: Mutex<Records<Scan>>,
    exports: Mutex<Records<Export>>,
}

impl Store {
    /// Keeps the scan `build` makes from its new id, and returns it.
    pub fn add_scan(&self, build: impl FnOnce(String) -> Scan) -> Scan {
        lock(&self.scans).add("scan", build)
    }

    pub fn scan(&self, id: &str) -> Option<Scan> {
        lock(&self.scans).get("scan", id)
    }

    pub fn add_export(&self, build: impl FnOnce(String) -> Export) -> Export {
        lock(&self.exports).add("exp", build)
    }

    pub fn export(&self, id: &str) -> Option<Export> {
        lock(&self.exports).get("exp", id)
    }
}

/// A poisoned lock only means another request panicked mid-insert; the map is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Items by number, oldest first, each with its id.
struct Records<T> {
    last: u64,
    items: BTreeMap<u64, (String, T)>,
}

impl<T> Default for Records<T> {
    fn default() -> Self {
        Self { last: 0, items: BTreeMap::new() }
    }
}

impl<T: Clone> Records<T> {
    fn add(&mut self, prefix: &str, build: impl FnOnce(String) -> T) -> T {
        self.last += 1;
        let id = format!("{prefix}_{:06}", self.last);
        let item = build(id.clone());
        self.items.insert(self.last, (id, item.clone()));
        while self.items.len() > CAPACITY {
            self.items.pop_first();
        }
        item
    }

    fn get(&self, prefix: &str, id: &str) -> Option<T> {
        let number = id.strip_prefix(prefix)?.strip_prefix('_')?.parse::<u64>().ok()?;
        self.items.get(&number).filter(|(known, _)| known == id).map(|(_, item)| item.clone())
    }
}
