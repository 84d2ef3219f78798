//! What a rate-limit bucket is: a limit per window, counted per subject (key, account, user, IP).

use std::fmt;

use chrono::Duration;

/// How a bucket's window is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// Fixed windows aligned to the UTC clock: a minute starts at :00 seconds, an hour at the top
    /// of the hour, a day at 00:00:00Z.
    Second,
    Minute,
    Hour,
    Day,
    /// A calendar month starting at 00:00 UTC on the billing anchor day (1–31). An anchor past the
    /// end of a short month means that month's last day.
    Month {
        anchor_day: u8,
    },
    /// GCRA: `limit` requests per `period`, smoothly, with up to `burst` requests at once.
    Gcra {
        period: Duration,
        burst: u32,
    },
}

/// Whose requests a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Key,
    Account,
    User,
    Ip,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Key => "key",
            Scope::Account => "account",
            Scope::User => "user",
            Scope::Ip => "ip",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bucket as the policy defines it: looked up per request, so a plan change applies at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    /// The policy's name for it, e.g. `reads`, `monthly`, `daily_cap`.
    pub name: String,
    pub limit: u64,
    pub window: Window,
    pub scope: Scope,
}

/// One bucket charged by one request: which bucket, whose counter, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub spec: BucketSpec,
    /// The subject's id within the scope (a key id, account id, user id or IP address).
    pub subject: String,
    /// Units this request consumes; usually 1.
    pub cost: u64,
}

impl BucketSpec {
    pub fn new(name: impl Into<String>, limit: u64, window: Window, scope: Scope) -> Self {
        Self { name: name.into(), limit, window, scope }
    }
}

impl Charge {
    /// One unit of `spec` for `subject`, the usual charge of one request.
    pub fn new(spec: BucketSpec, subject: impl Into<String>) -> Self {
        Self { spec, subject: subject.into(), cost: 1 }
    }

    /// The same charge costing `cost` units (an export may cost more than a read).
    pub fn with_cost(mut self, cost: u64) -> Self {
        self.cost = cost;
        self
    }
}
