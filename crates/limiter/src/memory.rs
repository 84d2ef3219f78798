//! The embedded store: bucket counters in this process's memory, for a single node.
//!
//! **How it works.** Counters are grouped per subject: one entry per (scope, subject), holding
//! a slot per bucket (name + window kind). Entries live in power-of-two shards, each a
//! `HashMap` behind a `std::sync::Mutex`. A decision locks the shards of its subjects in
//! ascending order (so two requests never deadlock), evaluates every charge with the pure
//! algorithms of `rule.rs`, writes the new cells only if all admit, and unlocks. A lock is
//! held for a few hundred nanoseconds and never across an `.await`: the async methods are
//! synchronous underneath.
//!
//! Entries are keyed by a 128-bit fingerprint of (scope, subject), XXH3 with a seed drawn at
//! start-up, and slots by a 64-bit fingerprint of (name, window kind). Subjects are key ids,
//! account ids, user ids and IP addresses; at 10 million subjects the chance that any two share
//! a fingerprint is about 10⁻²⁵.
//!
//! **Memory.** One subject's entry is 112 bytes in its table (the 128-bit fingerprint, an
//! expiry, and up to three 24-byte slots inline; a fourth bucket on the same subject moves the
//! slots to a heap block of 24 bytes per slot) plus one control byte. The table keeps between
//! 7/16 and 7/8 of its places full, so a live subject costs 129–258 bytes. With the default
//! policy an API key's request touches three subjects: its key (burst, daily cap, reads: one
//! entry), its account (monthly quota) and its IP (public limit), so one key with its own
//! account and IP costs about 390–780 bytes, less when accounts and IPs are shared. An entry
//! expires when all its slots are back to empty (window over, GCRA bucket full again); a shard
//! sweeps expired entries whenever it has doubled in size since its last sweep, so memory stays
//! within about twice the live subjects under any number of distinct keys and IPs.
//!
//! **How it fails.** It does not: the only error is [`StoreError::InvalidBucket`] for a spec
//! the algorithms cannot enforce. Counters are lost when the process exits.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use smallvec::SmallVec;
use xxhash_rust::xxh3::{xxh3_64_with_seed, xxh3_128_with_seed};

use table::Table;

use crate::bucket::{BucketSpec, Charge, Scope, Window};
use crate::calendar::Micros;
use crate::clock::{Clock, SystemClock};
use crate::decision::{self, BucketState, Decision};
use crate::rule::{self, Cell, Outcome, Rule, Span, Verdict};

mod table;
use crate::store::{LimiterStore, StoreError};

/// Bucket counters in memory, sharded; see the [module docs](self).
pub struct MemoryStore {
    shards: Box<[Shard]>,
    mask: u64,
    seed: u64,
    clock: Arc<dyn Clock>,
}

// Each shard's mutex on its own cache lines, so two threads on two shards don't contend.
#[repr(align(128))]
struct Shard(Mutex<Table>);

/// Requests with at most this many charges are worked out on the stack.
const STACK_CHARGES: usize = 8;

/// The held shard locks of one request, in ascending shard order.
type Guards<'s> = SmallVec<[MutexGuard<'s, Table>; STACK_CHARGES]>;

/// A charge resolved to its rule and its place in the store, and what became of it.
#[derive(Clone, Copy)]
struct Work {
    rule: Rule,
    cost: u64,
    slot: u64,
    /// The subject's fingerprint.
    key: u128,
    /// Index of the request's first charge on the same subject (its own if it is the first).
    first: usize,
    shard: usize,
    /// Index into the held guards.
    guard: usize,
    /// The cell as stored before this request.
    stored: Option<Cell>,
    /// The cell this charge was evaluated against (differs if the request charged it before).
    seen: Option<Cell>,
    outcome: Outcome,
}

impl Work {
    /// All zeroes, so a scratch array is cleared rather than copied.
    const UNSET: Work = Work {
        rule: Rule::Fixed { limit: 0, span: Span::Length(0) },
        cost: 0,
        slot: 0,
        key: 0,
        first: 0,
        shard: 0,
        guard: 0,
        stored: None,
        seen: None,
        outcome: Outcome::UNDECIDED,
    };
}

/// Run `job` on a scratch slice of one `Work` per charge: on the stack for usual requests.
fn with_work<R>(charges: &[Charge], job: impl FnOnce(&mut [Work]) -> R) -> R {
    if charges.len() <= STACK_CHARGES {
        let mut work = [Work::UNSET; STACK_CHARGES];
        job(&mut work[..charges.len()])
    } else {
        job(&mut vec![Work::UNSET; charges.len()])
    }
}

impl MemoryStore {
    /// A store on the system clock, with 64 shards.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A store on the given clock (tests pass a [`crate::ManualClock`]), with 64 shards.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::with_clock_and_shards(clock, 64)
    }

    /// A store with `shards` shards, rounded up to a power of two (at least 1).
    pub fn with_clock_and_shards(clock: Arc<dyn Clock>, shards: usize) -> Self {
        let shards = shards.max(1).next_power_of_two();
        Self {
            shards: (0..shards).map(|_| Shard(Mutex::new(Table::new()))).collect(),
            mask: (shards - 1) as u64,
            seed: RandomState::new().hash_one(0x6b65_7973_7469_6c65_u64),
            clock,
        }
    }

    /// Subjects (scope + subject pairs) currently held, expired or not.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every entry whose buckets are all back to empty. Shards also do this on their own.
    pub fn purge_expired(&self) {
        let now = self.now();
        for shard in self.shards.iter() {
            lock(shard).sweep(now);
        }
    }

    fn now(&self) -> Micros {
        self.clock.now_micros()
    }

    fn subject_key(&self, scope: Scope, subject: &str) -> u128 {
        let tag = match scope {
            Scope::Key => 1,
            Scope::Account => 2,
            Scope::User => 3,
            Scope::Ip => 4,
        };
        xxh3_128_with_seed(subject.as_bytes(), self.seed.wrapping_add(tag))
    }

    fn slot_id(&self, name: &str, window: &Window) -> u64 {
        let kind = rule::kind_code(window).as_bytes().first().copied();
        xxh3_64_with_seed(name.as_bytes(), self.seed ^ u64::from(kind.unwrap_or(0)))
    }

    fn shard_of(&self, subject: u128) -> usize {
        // Low bits pick the shard; the table hashes on the high bits.
        (subject as u64 & self.mask) as usize
    }

    /// Resolve every charge (each distinct subject hashed once), lock the subjects' shards in
    /// ascending order, and read the stored cells with one table lookup per subject.
    fn place_and_lock<'s>(&'s self, charges: &[Charge], work: &mut [Work]) -> Result<Guards<'s>, StoreError> {
        for (i, charge) in charges.iter().enumerate() {
            let scope = charge.spec.scope;
            let first = charges[..i]
                .iter()
                .position(|c| c.spec.scope == scope && c.subject == charge.subject)
                .unwrap_or(i);
            let key = if first == i { self.subject_key(scope, &charge.subject) } else { work[first].key };
            let w = &mut work[i];
            w.rule = Rule::of(&charge.spec)?;
            w.cost = rule::clamp_cost(charge.cost);
            w.slot = self.slot_id(&charge.spec.name, &charge.spec.window);
            w.key = key;
            w.shard = self.shard_of(key);
            w.first = first;
        }
        // Lock each distinct shard once, lowest first, so two requests never deadlock.
        let mut guards = Guards::new();
        let mut floor = 0;
        while let Some(shard) = work.iter().map(|w| w.shard).filter(|&shard| shard >= floor).min() {
            for w in work.iter_mut().filter(|w| w.shard == shard) {
                w.guard = guards.len();
            }
            guards.push(lock(&self.shards[shard]));
            floor = shard + 1;
        }
        for i in 0..work.len() {
            if work[i].first != i {
                continue;
            }
            let Some(entry) = guards[work[i].guard].get(work[i].key) else {
                continue;
            };
            for w in work[i..].iter_mut().filter(|w| w.first == i) {
                w.stored = entry.cell(w.slot);
            }
        }
        Ok(guards)
    }

    fn decide_at<'c>(&self, charges: &'c [Charge]) -> Result<Decision<'c>, StoreError> {
        with_work(charges, |work| self.decide_with(charges, work))
    }

    fn decide_with<'c>(&self, charges: &'c [Charge], work: &mut [Work]) -> Result<Decision<'c>, StoreError> {
        let mut guards = self.place_and_lock(charges, work)?;
        let now = self.clock.now_micros();
        // Phase 1: evaluate in order; a bucket charged twice sees its first charge.
        let mut allowed = true;
        for i in 0..work.len() {
            let (earlier, rest) = work.split_at_mut(i);
            let current = &mut rest[0];
            let cell = earlier.iter().rev().find(|w| w.key == current.key && w.slot == current.slot).map_or(
                current.stored,
                |w| match w.outcome.verdict {
                    Verdict::Admit(Some((cell, _))) => Some(cell),
                    _ => w.seen,
                },
            );
            current.seen = cell;
            current.outcome = current.rule.charge(cell, now, current.cost);
            allowed &= matches!(current.outcome.verdict, Verdict::Admit(_));
        }
        if allowed {
            // Phase 2: every bucket admitted; charge them, one lookup per subject written.
            for i in 0..work.len() {
                if work[i].first != i {
                    continue;
                }
                let mut writes =
                    work[i..].iter().filter(|w| w.first == i).filter_map(|w| match w.outcome.verdict {
                        Verdict::Admit(Some((cell, expires))) => Some((w.slot, cell, expires)),
                        _ => None,
                    });
                if let Some(write) = writes.next() {
                    let entry = guards[work[i].guard].entry(work[i].key, now);
                    for (slot, cell, expires) in std::iter::once(write).chain(writes) {
                        entry.put(slot, cell, expires, now);
                    }
                }
            }
        }
        drop(guards);
        // Admitted: the buckets after the charge. Denied: nothing was written, so every
        // bucket as it stands, with the waits of those that denied.
        let buckets: Vec<BucketState<'c>> = charges
            .iter()
            .zip(work.iter())
            .map(|(charge, w)| match w.outcome.verdict {
                _ if allowed => decision::bucket_state(charge, w.outcome.report, None),
                Verdict::Deny(wait) => {
                    decision::bucket_state(charge, w.rule.current(w.stored, now), Some(wait))
                }
                Verdict::Admit(_) => decision::bucket_state(charge, w.rule.current(w.stored, now), None),
            })
            .collect();
        Ok(Decision { now: decision::instant(now), retry_after: decision::overall_wait(&buckets), buckets })
    }

    fn peek_at<'c>(&self, charges: &'c [Charge]) -> Result<Vec<BucketState<'c>>, StoreError> {
        with_work(charges, |work| {
            let guards = self.place_and_lock(charges, work)?;
            let now = self.clock.now_micros();
            drop(guards);
            Ok(charges
                .iter()
                .zip(work.iter())
                .map(|(charge, w)| decision::bucket_state(charge, w.rule.current(w.stored, now), None))
                .collect())
        })
    }

    fn reset_now(&self, spec: &BucketSpec, subject: &str) {
        let subject = self.subject_key(spec.scope, subject);
        let slot = self.slot_id(&spec.name, &spec.window);
        let mut table = lock(&self.shards[self.shard_of(subject)]);
        table.remove_slot(subject, slot);
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").field("shards", &self.shards.len()).finish_non_exhaustive()
    }
}

#[async_trait]
impl LimiterStore for MemoryStore {
    async fn decide<'c>(&self, charges: &'c [Charge]) -> Result<Decision<'c>, StoreError> {
        self.decide_at(charges)
    }

    async fn peek<'c>(&self, charges: &'c [Charge]) -> Result<Vec<BucketState<'c>>, StoreError> {
        self.peek_at(charges)
    }

    async fn reset(&self, spec: &BucketSpec, subject: &str) -> Result<(), StoreError> {
        self.reset_now(spec, subject);
        Ok(())
    }
}

fn lock(shard: &Shard) -> MutexGuard<'_, Table> {
    // Tables are only written after every check passed, so a poisoned one is still consistent.
    shard.0.lock().unwrap_or_else(PoisonError::into_inner)
}
