//! Buckets: the named entries of the `[buckets]` table — a [`Limit`], whose requests it counts
//! (`scope`: key, account, user or ip), and whether it fails closed.
//!
//! This module also holds the file's spelling of limits ([`LimitFields`]): every key a limit or
//! bucket may have. Parsing goes through it so that a mix of the two forms, or a bucket
//! without a scope, is refused with the table's location; writing back goes through it too.

use limiter::{BucketSpec, Scope};
use serde::{Deserialize, Serialize};

use crate::limits::{FixedWindow, Limit, Period};

/// A named bucket of the `[buckets]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LimitFields", into = "LimitFields")]
pub struct Bucket {
    pub limit: Limit,
    /// Whose requests it counts: `key`, `account`, `user` or `ip`.
    pub scope: Scope,
    /// Security-critical: refuse when the limiter store is unreachable instead of falling back.
    pub fail_closed: bool,
    pub description: Option<String>,
}

impl Bucket {
    pub fn spec(&self, name: &str, anchor_day: u8) -> BucketSpec {
        self.limit.spec(name, self.scope, anchor_day)
    }
}

/// The file's spelling of a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ScopeName {
    Key,
    Account,
    User,
    Ip,
}

/// Every key a limit or bucket may have, as the file writes them: the shape [`Limit`] and
/// [`Bucket`] are parsed from and written back as.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<FixedWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    per: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    burst: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<ScopeName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fail_closed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

impl TryFrom<LimitFields> for Limit {
    type Error = String;

    fn try_from(fields: LimitFields) -> Result<Self, Self::Error> {
        if fields.scope.is_some() || fields.fail_closed.is_some() || fields.description.is_some() {
            return Err(
                "`scope`, `fail_closed` and `description` belong to a [buckets] entry, not here".to_owned()
            );
        }
        fields.limit()
    }
}

impl LimitFields {
    fn limit(&self) -> Result<Limit, String> {
        match (self.limit, self.window, self.rate, self.per) {
            (Some(limit), Some(window), None, None) if self.burst.is_none() => {
                Ok(Limit::Fixed { limit, window })
            }
            (None, None, Some(rate), Some(per)) => Ok(Limit::Gcra {
                rate,
                per,
                burst: self.burst.unwrap_or_else(|| u32::try_from(rate).unwrap_or(u32::MAX)),
            }),
            _ => Err("write either `limit` and `window` (a fixed window) or `rate` and `per` \
                      (GCRA, with an optional `burst`), not a mix"
                .to_owned()),
        }
    }
}

impl TryFrom<LimitFields> for Bucket {
    type Error = String;

    fn try_from(fields: LimitFields) -> Result<Self, Self::Error> {
        let scope = match fields.scope {
            Some(ScopeName::Key) => Scope::Key,
            Some(ScopeName::Account) => Scope::Account,
            Some(ScopeName::User) => Scope::User,
            Some(ScopeName::Ip) => Scope::Ip,
            None => return Err("missing field `scope` (key, account, user or ip)".to_owned()),
        };
        Ok(Bucket {
            limit: fields.limit()?,
            scope,
            fail_closed: fields.fail_closed.unwrap_or(false),
            description: fields.description,
        })
    }
}

impl From<Limit> for LimitFields {
    fn from(limit: Limit) -> Self {
        match limit {
            Limit::Fixed { limit, window } => {
                LimitFields { limit: Some(limit), window: Some(window), ..LimitFields::default() }
            }
            Limit::Gcra { rate, per, burst } => {
                LimitFields { rate: Some(rate), per: Some(per), burst: Some(burst), ..LimitFields::default() }
            }
        }
    }
}

impl From<Bucket> for LimitFields {
    fn from(bucket: Bucket) -> Self {
        let scope = match bucket.scope {
            Scope::Key => ScopeName::Key,
            Scope::Account => ScopeName::Account,
            Scope::User => ScopeName::User,
            Scope::Ip => ScopeName::Ip,
        };
        LimitFields {
            scope: Some(scope),
            fail_closed: bucket.fail_closed.then_some(true),
            description: bucket.description,
            ..LimitFields::from(bucket.limit)
        }
    }
}
