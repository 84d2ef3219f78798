//! keystile's domain services and the SQL behind them, free of any web framework.
//!
//! The dashboard's server functions and the gateway call these services; the services call one
//! repository module per concern. Everything runs on SQLite (embedded default) or PostgreSQL
//! through sqlx's `Any` driver, with one set of portable migrations.
//!
//! Failures come back as each service's own error enum: expected outcomes (a taken email, wrong
//! credentials) are variants callers show to users; anything else is `Internal`, whose cause is
//! logged by the caller and never shown.

pub mod accounts;
pub mod audit;
pub mod catalogue;
pub mod changes;
pub mod current_policy;
pub mod db;
pub mod gauges;
pub mod idempotency;
pub mod ids;
pub mod keys;
pub mod logins;
pub mod passwords;
pub mod sessions;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod text;
mod throttle;

use std::net::IpAddr;
use std::sync::Arc;

use limiter::{Clock, LimiterStore};

pub use current_policy::CurrentPolicy;
pub use db::{Backend, Database, DbError};

/// Everything the web layer needs, cheap to clone into each request.
#[derive(Clone)]
pub struct Services {
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    pub limiter: Arc<dyn LimiterStore>,
    pub policy: CurrentPolicy,
    pub accounts: accounts::Accounts,
    pub logins: logins::Logins,
    pub keys: keys::Keys,
    pub idempotency: idempotency::Idempotency,
    pub catalogue: catalogue::Catalogue,
}

/// What [`Services::new`] is built from.
pub struct ServicesConfig {
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    pub limiter: Arc<dyn LimiterStore>,
    pub policy: CurrentPolicy,
    pub key_format: keys::KeyFormat,
    pub changes: Arc<dyn changes::ChangeFeed>,
}

impl Services {
    pub fn new(config: ServicesConfig) -> Self {
        let ServicesConfig { db, clock, limiter, policy, key_format, changes } = config;
        let accounts = accounts::Accounts::new(db.clone(), clock.clone(), policy.clone(), changes.clone());
        let logins =
            logins::Logins::new(db.clone(), clock.clone(), accounts.clone(), limiter.clone(), policy.clone());
        let keys = keys::Keys::new(
            db.clone(),
            clock.clone(),
            limiter.clone(),
            policy.clone(),
            key_format,
            changes.clone(),
        );
        let idempotency = idempotency::Idempotency::new(db.clone(), clock.clone());
        let catalogue = catalogue::Catalogue::new(db.clone(), clock.clone(), policy.clone(), changes);
        Self { db, clock, limiter, policy, accounts, logins, keys, idempotency, catalogue }
    }

    /// What each of the account's `keys` that has its own quota has used of it this day or
    /// billing month, by key id. Empty when the account or the limiter store cannot be read: the
    /// counts add to a key listing, never a reason for it to fail.
    pub async fn key_quota_use(
        &self,
        account_id: &str,
        keys: &[keys::ApiKey],
    ) -> std::collections::HashMap<String, u64> {
        // Most keys have none: then neither the account nor the limiter store is read.
        if keys.iter().all(|key| key.restrictions.quota.is_none()) {
            return Default::default();
        }
        let Ok(Some(account)) = self.accounts.account(account_id).await else {
            return Default::default();
        };
        self.keys.quota_used(keys, account.billing_anchor_day).await.unwrap_or_default()
    }
}

/// The caller's address as the web layer determined it (`X-Forwarded-For` only from trusted
/// proxies). Login throttling and the public per-IP limits count by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);
