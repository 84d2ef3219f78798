//! The benchmarks' request: the default policy's five buckets for one authenticated call.
//!
//! Limits are set far above what a run can reach, so every request is admitted and both sides
//! do the full work of charging all five buckets.

#![allow(dead_code)]

use chrono::Duration;
use limiter::{BucketSpec, Charge, Scope, Window};

const UNREACHABLE: u64 = 1 << 45;

/// monthly quota (account, month), burst (key, GCRA), daily cap (key, day), reads (key,
/// minute), public per-IP (IP, hour): the default policy's shapes.
pub fn buckets() -> Vec<BucketSpec> {
    vec![
        BucketSpec::new("monthly", UNREACHABLE, Window::Month { anchor_day: 1 }, Scope::Account),
        BucketSpec::new(
            "burst",
            UNREACHABLE,
            Window::Gcra { period: Duration::seconds(1), burst: u32::MAX },
            Scope::Key,
        ),
        BucketSpec::new("daily_cap", UNREACHABLE, Window::Day, Scope::Key),
        BucketSpec::new("reads", UNREACHABLE, Window::Minute, Scope::Key),
        BucketSpec::new("public", UNREACHABLE, Window::Hour, Scope::Ip),
    ]
}

/// `n` API keys, four per account, each calling from its own IPv4 address.
pub struct Subjects {
    pub keys: Vec<String>,
    pub accounts: Vec<String>,
    pub ips: Vec<String>,
}

impl Subjects {
    pub fn new(n: usize) -> Self {
        Self {
            keys: (0..n).map(|i| format!("key_{i:07}")).collect(),
            accounts: (0..n).map(|i| format!("acct_{:07}", i / 4)).collect(),
            ips: (0..n).map(|i| std::net::Ipv4Addr::from(0x0a00_0000 + i as u32).to_string()).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The five charges of one request, ready to be refilled for another key.
pub fn charges(buckets: &[BucketSpec]) -> Vec<Charge> {
    buckets.iter().map(|b| Charge::new(b.clone(), String::with_capacity(32))).collect()
}

/// Point `charges` at key `i` without allocating: the gateway's reusable request buffer.
pub fn fill(charges: &mut [Charge], subjects: &Subjects, i: usize) {
    for charge in charges.iter_mut() {
        let subject = match charge.spec.scope {
            Scope::Account => &subjects.accounts[i],
            Scope::Ip => &subjects.ips[i],
            Scope::Key | Scope::User => &subjects.keys[i],
        };
        charge.subject.clear();
        charge.subject.push_str(subject);
    }
}

/// A cheap per-thread stream of key indices (xorshift64*).
pub struct Picker(u64);

impl Picker {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % n
    }
}
