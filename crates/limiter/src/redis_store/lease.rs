//! Quota leases: a small share of a roomy bucket that a node reserves in Redis and then spends
//! on its own, so that a request whose buckets are all far from their limits needs no script
//! call. What a lease may hold, and why it keeps every bucket exact enough, is in the
//! [store's docs](super).
//!
//! This table is pure bookkeeping (no I/O). Per bucket key it holds the node's view of the
//! bucket (`seen`: Redis's cell at the last answer, minus what the node still holds reserved),
//! the units reserved and not yet spent (`left`), units on their way back (`returning`), for
//! GCRA the `gap` its spending has opened, and until when the lease may be spent; or that
//! Redis lately refused the bucket a lease.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::calendar::Micros;
use crate::rule::{Cell, Report, Rule, Verdict};

/// A bucket Redis would not lease is not asked again for this many lease lifetimes.
const REFUSAL_LIFETIMES: Micros = 10;

/// How much of a roomy bucket a node may reserve, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeasePolicy {
    /// Units a node asks for at once; 0 turns leases off.
    pub units: u64,
    /// A lease is at most the bucket's room (what is left after the request) divided by this:
    /// a bucket with less than this much room is never leased, and all the nodes together hold
    /// a small share of what is left.
    pub share: u64,
    /// How long a node keeps a lease before it gives back what it did not spend.
    pub ttl: Duration,
}

impl LeasePolicy {
    /// 64 units at a time, at most 1/256 of the room, for one second.
    pub const DEFAULT: LeasePolicy = LeasePolicy { units: 64, share: 256, ttl: Duration::from_secs(1) };
    /// Every request is one script call.
    pub const OFF: LeasePolicy = LeasePolicy { units: 0, share: 256, ttl: Duration::from_secs(1) };

    fn ttl_micros(&self) -> Micros {
        Micros::try_from(self.ttl.as_micros()).unwrap_or(Micros::MAX)
    }
}

/// One bucket of one request, as the table sees it.
pub(crate) struct Bucket {
    pub key: String,
    pub rule: Rule,
    pub cost: u64,
}

/// What a script call asks of one bucket besides its cost.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ask {
    /// Units to reserve for this node, if the bucket is roomy enough.
    pub want: u64,
    /// Units reserved earlier and not spent, returned before deciding.
    pub back: u64,
    /// For a fixed window, the start of the window those units were reserved in. For GCRA, µs
    /// to move the TAT by: back by the unspent units' intervals, on by the refills this node's
    /// spending passed over (see [`Lease::gap`]).
    pub back_at: Micros,
}

/// One bucket in a script's answer: its report, its wait if it denied, the units granted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answered {
    pub report: Report,
    pub wait: Option<Micros>,
    pub granted: u64,
}

/// Units to return for one bucket (the sweeper's and the shutdown's give-back).
pub(crate) struct Return {
    pub key: String,
    pub rule: Rule,
    pub ask: Ask,
}

struct Lease {
    rule: Rule,
    /// The bucket as this node sees it, its own unspent reservation left out.
    seen: Cell,
    /// Units reserved in Redis and not yet spent.
    left: u64,
    /// Units taken out of `left` by a give-back that has not been answered yet.
    returning: u64,
    /// GCRA only: how far the node's spending has moved the TAT beyond the units it spent,
    /// because the bucket had refilled past its TAT when it spent (Redis, holding the
    /// reservation ahead, cannot see that). Sent with the next give-back, so that Redis ends up
    /// where the same requests decided there one by one would have left it.
    gap: Micros,
    /// This node's clock after which the lease is not spent: the ttl, or the window's end.
    until: Micros,
    /// Redis's clock minus this node's, at the last answer.
    skew: Micros,
    /// Redis granted nothing (the bucket is not roomy): ask again only after `until`.
    refused: bool,
}

pub(crate) struct Leases {
    policy: LeasePolicy,
    table: Mutex<HashMap<String, Lease>>,
}

impl Leases {
    pub(crate) fn new(policy: LeasePolicy) -> Self {
        Self { policy, table: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn share(&self) -> u64 {
        self.policy.share.max(1)
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.policy.ttl
    }

    fn enabled(&self) -> bool {
        self.policy.units > 0
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Lease>> {
        // Every change below is complete before the guard drops, so a poisoned table is consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decide the request from this node's leases alone: `Some` (Redis's "now" as this node
    /// reckons it, and each bucket's report after the charge) if every bucket holds a lease
    /// with room for its cost, each then spent; `None`, spending nothing, otherwise.
    pub(crate) fn spend(&self, buckets: &[Bucket], local_now: Micros) -> Option<(Micros, Vec<Report>)> {
        if !self.enabled() || buckets.is_empty() || has_repeats(buckets) {
            return None;
        }
        let mut table = self.table();
        let mut spent = Vec::with_capacity(buckets.len());
        for bucket in buckets {
            let lease = table.get(&bucket.key).filter(|lease| lease.spendable(bucket, local_now))?;
            let now = local_now + lease.skew;
            let outcome = bucket.rule.charge(Some(lease.seen), now, bucket.cost);
            let (seen, gap) = match outcome.verdict {
                Verdict::Admit(Some((cell, _))) => (cell, lease.gap_after_spending(now)),
                Verdict::Admit(None) => (lease.seen, lease.gap),
                Verdict::Deny(_) => return None,
            };
            spent.push((seen, gap, outcome.report, now));
        }
        let now = spent.first().map_or(local_now, |&(_, _, _, now)| now);
        let mut reports = Vec::with_capacity(buckets.len());
        for (bucket, (seen, gap, report, _)) in buckets.iter().zip(spent) {
            if let Some(lease) = table.get_mut(&bucket.key) {
                lease.seen = seen;
                lease.gap = gap;
                lease.left -= bucket.cost;
            }
            reports.push(report);
        }
        Some((now, reports))
    }

    /// What a script call for this request should ask: a lease for each bucket without one that
    /// could serve it (none if a bucket was lately refused one: the request needs Redis anyway),
    /// and the units of leases that can no longer be spent, given back in the same call. A GCRA
    /// lease is always given back (and asked for again), so Redis decides on the TAT the node's
    /// own spending has left.
    pub(crate) fn plan(&self, buckets: &[Bucket], local_now: Micros) -> Vec<Ask> {
        let mut asks = vec![Ask::default(); buckets.len()];
        if !self.enabled() {
            return asks;
        }
        let mut table = self.table();
        // A request charging a bucket twice gets no lease, but still gives back.
        let no_lease = has_repeats(buckets)
            || buckets.iter().any(|bucket| {
                table.get(&bucket.key).is_some_and(|lease| lease.refused && lease.until > local_now)
            });
        for (i, (bucket, ask)) in buckets.iter().zip(asks.iter_mut()).enumerate() {
            if buckets[..i].iter().any(|earlier| earlier.key == bucket.key) {
                continue;
            }
            let lease = table.get_mut(&bucket.key);
            let serves = lease.as_ref().is_some_and(|lease| {
                lease.spendable(bucket, local_now) && !matches!(lease.rule, Rule::Gcra { .. })
            });
            if let Some(back) = lease.filter(|_| !serves).and_then(Lease::give_back) {
                *ask = back;
            }
            if !serves && !no_lease {
                ask.want = self.policy.units.max(bucket.cost);
            }
        }
        asks
    }

    /// Take in a script's answer for these buckets and asks (`allowed`: the request was
    /// admitted): count the returned units as back, keep the grants, and correct each leased
    /// bucket's report so it leaves out the units this node holds reserved (they are this
    /// node's room, not used).
    pub(crate) fn settle(
        &self,
        buckets: &[Bucket],
        asks: &[Ask],
        answers: &mut [Answered],
        allowed: bool,
        (now, local_now): (Micros, Micros),
    ) {
        if !self.enabled() {
            return;
        }
        let mut table = self.table();
        for ((bucket, ask), answer) in buckets.iter().zip(asks).zip(answers.iter_mut()) {
            let redis_cell = cell_of(&bucket.rule, &answer.report, now);
            let wanted = answer.granted > 0 || (ask.want > 0 && allowed);
            let lease = match table.get_mut(&bucket.key) {
                Some(lease) => {
                    lease.returning = lease.returning.saturating_sub(ask.back);
                    if lease.fits(&bucket.rule, redis_cell.at) {
                        lease
                    } else if wanted {
                        // Another window or limit: what it still holds is written off.
                        *lease = Lease::new(bucket.rule, redis_cell);
                        lease
                    } else {
                        // Another limit: not spent, but its reservation is still in Redis's count.
                        if lease.counts_in(redis_cell.at) {
                            answer.report = bucket.rule.current(Some(lease.view(redis_cell, now)), now);
                        }
                        continue;
                    }
                }
                None if wanted => {
                    table.entry(bucket.key.clone()).or_insert(Lease::new(bucket.rule, redis_cell))
                }
                None => continue,
            };
            lease.seen = lease.view(redis_cell, now);
            lease.skew = now - local_now;
            answer.report = bucket.rule.current(Some(lease.seen), now);
            if answer.granted > 0 {
                lease.left += answer.granted;
                lease.refused = false;
                let window_left = match bucket.rule {
                    Rule::Fixed { span, .. } => Rule::bounds(span, now).1 - now,
                    Rule::Gcra { .. } => Micros::MAX,
                };
                lease.until = local_now + self.policy.ttl_micros().min(window_left);
            } else if ask.want > 0 && allowed && lease.left == 0 {
                // Tight buckets stay tight a while: asking again every lease lifetime would
                // reserve units of the request's roomy buckets that no request could spend.
                lease.refused = true;
                lease.until = local_now + REFUSAL_LIFETIMES * self.policy.ttl_micros();
            }
        }
    }

    /// Take the units of every lease past its time (or of every lease, at shutdown) for a
    /// give-back, and forget leases with nothing left.
    pub(crate) fn take(&self, local_now: Micros, all: bool) -> Vec<Return> {
        let mut table = self.table();
        let mut returns = Vec::new();
        table.retain(|key, lease| {
            let over = all || lease.until <= local_now;
            if over && let Some(ask) = lease.give_back() {
                returns.push(Return { key: key.clone(), rule: lease.rule, ask });
            }
            !(over && lease.left == 0 && lease.returning == 0)
        });
        returns
    }

    /// A script call carrying these asks failed: whether its returned units arrived is
    /// unknown, so they are written off.
    pub(crate) fn abandon(&self, buckets: &[Bucket], asks: &[Ask]) {
        let mut table = self.table();
        for (bucket, ask) in buckets.iter().zip(asks).filter(|(_, ask)| ask.back > 0) {
            if let Some(lease) = table.get_mut(&bucket.key) {
                lease.returning = lease.returning.saturating_sub(ask.back);
            }
        }
    }

    /// A give-back was answered (or failed: the units are written off either way).
    pub(crate) fn returned(&self, returns: &[Return]) {
        let mut table = self.table();
        for back in returns {
            if let Some(lease) = table.get_mut(&back.key) {
                lease.returning = lease.returning.saturating_sub(back.ask.back);
            }
        }
    }

    /// Buckets the table holds something for: a lease, units on their way back, or a refusal.
    pub(crate) fn len(&self) -> usize {
        self.table().len()
    }

    /// Forget this node's lease on one bucket (its counter was reset: nothing to give back).
    pub(crate) fn forget(&self, key: &str) {
        self.table().remove(key);
    }
}

impl Lease {
    fn new(rule: Rule, seen: Cell) -> Self {
        Lease { rule, seen, left: 0, returning: 0, gap: 0, until: Micros::MIN, skew: 0, refused: false }
    }

    /// The give-back of what this lease holds (its unspent units, and for GCRA the gap), now
    /// on its way: `None` if there is nothing to give back.
    fn give_back(&mut self) -> Option<Ask> {
        let back_at = match self.rule {
            Rule::Fixed { .. } => self.seen.at,
            Rule::Gcra { interval, .. } => {
                self.gap - interval.saturating_mul(Micros::try_from(self.left).unwrap_or(Micros::MAX))
            }
        };
        if self.left == 0 && (matches!(self.rule, Rule::Fixed { .. }) || self.gap == 0) {
            return None;
        }
        let ask = Ask { want: 0, back: self.left, back_at };
        self.returning += self.left;
        self.left = 0;
        self.gap = 0;
        Some(ask)
    }

    /// The gap after a GCRA charge at `now` (which starts from `max(TAT, now)`).
    fn gap_after_spending(&self, now: Micros) -> Micros {
        match self.rule {
            Rule::Fixed { .. } => 0,
            Rule::Gcra { .. } => self.gap + (now - self.seen.at).max(0),
        }
    }

    /// Whether this lease is on the same rule and (for a fixed window) the same window.
    fn fits(&self, rule: &Rule, window_start: Micros) -> bool {
        self.rule == *rule && self.counts_in(window_start)
    }

    /// Whether its reservation is in the counter Redis holds now: a GCRA TAT, or the window
    /// starting at `window_start`.
    fn counts_in(&self, window_start: Micros) -> bool {
        matches!(self.rule, Rule::Gcra { .. }) || self.seen.at == window_start
    }

    /// The bucket as this node sees it, from Redis's cell at `now`: without what the node holds
    /// reserved, and for GCRA with its gap.
    fn view(&self, redis_cell: Cell, now: Micros) -> Cell {
        let reserved = self.left + self.returning;
        match self.rule {
            Rule::Fixed { .. } => {
                Cell { at: redis_cell.at, count: redis_cell.count.saturating_sub(reserved) }
            }
            // A TAT Redis reports as now (or earlier) may be the reservation run out rather
            // than the bucket: the node's own view is then the better one.
            Rule::Gcra { .. } if (reserved > 0 || self.gap != 0) && redis_cell.at <= now => self.seen,
            Rule::Gcra { interval, .. } => {
                let reserved = interval.saturating_mul(Micros::try_from(reserved).unwrap_or(Micros::MAX));
                Cell { at: redis_cell.at.saturating_sub(reserved).saturating_add(self.gap), count: 0 }
            }
        }
    }

    /// Whether this lease can pay for the bucket's charge now.
    fn spendable(&self, bucket: &Bucket, local_now: Micros) -> bool {
        if self.refused || self.rule != bucket.rule || local_now >= self.until || self.left < bucket.cost {
            return false;
        }
        match self.rule {
            Rule::Fixed { span, .. } => Rule::bounds(span, local_now + self.skew).0 == self.seen.at,
            Rule::Gcra { .. } => true,
        }
    }
}

/// Whether two of the request's buckets are the same counter (then it always goes to Redis,
/// which sees the second charge after the first).
fn has_repeats(buckets: &[Bucket]) -> bool {
    buckets.iter().enumerate().any(|(i, bucket)| buckets[..i].iter().any(|b| b.key == bucket.key))
}

/// The stored cell behind a report at `now`: a window's start and count, or a GCRA TAT.
fn cell_of(rule: &Rule, report: &Report, now: Micros) -> Cell {
    match *rule {
        Rule::Fixed { span, .. } => Cell { at: Rule::bounds(span, now).0, count: report.used },
        Rule::Gcra { .. } => Cell { at: report.reset, count: 0 },
    }
}
