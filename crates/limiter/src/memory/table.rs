//! One shard's table: an entry per subject, a slot per bucket, and the sweep that keeps
//! memory bounded.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use smallvec::SmallVec;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::calendar::Micros;
use crate::rule::Cell;

/// A shard sweeps once it holds at least this many entries and twice as many as after its last sweep.
const MIN_SWEEP: usize = 1024;

/// A shard's subjects, keyed by their 128-bit fingerprints.
pub(super) struct Table {
    entries: HashMap<u128, Entry, BuildHasherDefault<Fingerprinted>>,
    sweep_at: usize,
}

/// One subject's buckets.
pub(super) struct Entry {
    /// When every slot is back to empty.
    expires: Micros,
    slots: SmallVec<[Slot; 3]>,
}

struct Slot {
    id: u64,
    cell: Cell,
}

impl Table {
    pub(super) fn new() -> Self {
        Self { entries: HashMap::default(), sweep_at: MIN_SWEEP }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn get(&self, subject: u128) -> Option<&Entry> {
        self.entries.get(&subject)
    }

    /// Forget one bucket of one subject (and the subject, if that was its last).
    pub(super) fn remove_slot(&mut self, subject: u128, slot: u64) {
        if let Some(entry) = self.entries.get_mut(&subject) {
            entry.slots.retain(|s| s.id != slot);
            if entry.slots.is_empty() {
                self.entries.remove(&subject);
            }
        }
    }

    /// The subject's entry, created if new (sweeping first if the shard has doubled).
    pub(super) fn entry(&mut self, subject: u128, now: Micros) -> &mut Entry {
        if self.entries.len() >= self.sweep_at && !self.entries.contains_key(&subject) {
            self.sweep(now);
        }
        self.entries.entry(subject).or_insert_with(|| Entry { expires: now, slots: SmallVec::new() })
    }

    pub(super) fn sweep(&mut self, now: Micros) {
        self.entries.retain(|_, entry| entry.expires > now);
        self.sweep_at = (self.entries.len() * 2).max(MIN_SWEEP);
    }
}

impl Entry {
    pub(super) fn cell(&self, slot: u64) -> Option<Cell> {
        self.slots.iter().find(|s| s.id == slot).map(|s| s.cell)
    }

    pub(super) fn put(&mut self, slot: u64, cell: Cell, expires: Micros, now: Micros) {
        if self.expires <= now {
            // Every slot is back to empty: start clean, dropping buckets no longer used.
            self.slots.clear();
        }
        self.expires = self.expires.max(expires);
        match self.slots.iter_mut().find(|s| s.id == slot) {
            Some(found) => found.cell = cell,
            None => self.slots.push(Slot { id: slot, cell }),
        }
    }
}

/// The table's hasher: entries are keyed by a fingerprint that is already a good hash.
#[derive(Default)]
struct Fingerprinted(u64);

impl Hasher for Fingerprinted {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; this keeps any other input well mixed all the same.
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u128(&mut self, fingerprint: u128) {
        self.0 = (fingerprint >> 64) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_with_three_slots_takes_the_documented_bytes() {
        assert_eq!(size_of::<Slot>(), 24);
        assert_eq!(size_of::<(u128, Entry)>(), 112);
    }
}
