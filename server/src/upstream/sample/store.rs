//! The sample API's memory: created scans and exports under sequential ids, the newest
//! [`CAPACITY`] of each kind (older ones are forgotten and then answer 404). Each belongs to the
//! account that created it, and only that account finds it.

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
    /// Keeps the scan `build` makes from its new id, as `owner`'s, and returns it.
    pub fn add_scan(&self, owner: &Owner, build: impl FnOnce(String) -> Scan) -> Scan {
        lock(&self.scans).add("scan", owner, build)
    }

    /// The scan with this id, if `owner` created it.
    pub fn scan(&self, owner: &Owner, id: &str) -> Option<Scan> {
        lock(&self.scans).get("scan", owner, id)
    }

    pub fn add_export(&self, owner: &Owner, build: impl FnOnce(String) -> Export) -> Export {
        lock(&self.exports).add("exp", owner, build)
    }

    pub fn export(&self, owner: &Owner, id: &str) -> Option<Export> {
        lock(&self.exports).get("exp", owner, id)
    }
}

/// A poisoned lock only means another request panicked mid-insert; the map is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The account a record belongs to, as the gateway named it (`None`: an anonymous caller).
pub type Owner = Option<String>;

/// Items by number, oldest first, each with its id and owner.
struct Records<T> {
    last: u64,
    items: BTreeMap<u64, Record<T>>,
}

struct Record<T> {
    id: String,
    owner: Owner,
    item: T,
}

impl<T> Default for Records<T> {
    fn default() -> Self {
        Self { last: 0, items: BTreeMap::new() }
    }
}

impl<T: Clone> Records<T> {
    fn add(&mut self, prefix: &str, owner: &Owner, build: impl FnOnce(String) -> T) -> T {
        self.last += 1;
        let id = format!("{prefix}_{:06}", self.last);
        let item = build(id.clone());
        self.items.insert(self.last, Record { id, owner: owner.clone(), item: item.clone() });
        while self.items.len() > CAPACITY {
            self.items.pop_first();
        }
        item
    }

    /// Another account's record is not found, as if it did not exist.
    fn get(&self, prefix: &str, owner: &Owner, id: &str) -> Option<T> {
        let number = id.strip_prefix(prefix)?.strip_prefix('_')?.parse::<u64>().ok()?;
        let record = self.items.get(&number)?;
        (record.id == id && record.owner == *owner).then(|| record.item.clone())
    }
}
