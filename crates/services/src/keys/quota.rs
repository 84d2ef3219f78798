//! A key's own quota as the dashboard and a restart read it: what each key used of it, from
//! the limiter store the gateway enforces against, and every key's quota at once.
//!
//! A quota counts the key's requests in its current day or billing month from when it was set:
//! set on a key that had already called, it starts at 0 (as Kong's and Unkey's do), and a
//! restart refills it with the requests made since then only (`server::restore`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use limiter::Charge;
use policy::KeyQuota;

use super::{ApiKey, KeyError, Keys, repo};

/// A key's own quota and when it started counting; `None` since the key was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSince {
    pub quota: KeyQuota,
    pub since: Option<DateTime<Utc>>,
}

/// Whether changing a key's quota from `old` to `new` starts a new count: a quota where there
/// was none, or one counted over another window. A new limit over the same window keeps the
/// count, as a plan change does.
pub(super) fn starts_a_new_count(old: Option<KeyQuota>, new: Option<KeyQuota>) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(old), Some(new)) => old.window() != new.window(),
    }
}

impl Keys {
    /// What each of `keys` that has its own quota used of it in the current day or billing
    /// month (from the account's `anchor_day`), by key id: the limiter's counter, which the
    /// gateway enforces. Reading charges nothing.
    pub async fn quota_used<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k ApiKey>,
        anchor_day: u8,
    ) -> Result<HashMap<String, u64>, KeyError> {
        let charges: Vec<Charge> = keys
            .into_iter()
            .filter_map(|key| Some(Charge::new(key.restrictions.quota?.spec(anchor_day), key.id.clone())))
            .collect();
        if charges.is_empty() {
            return Ok(HashMap::new());
        }
        let states = self.limiter.peek(&charges).await.map_err(|_| KeyError::Unavailable)?;
        Ok(states.iter().map(|state| (state.subject.to_owned(), state.used)).collect())
    }

    /// Every unrevoked key's own quota and when it started counting, by key id (for refilling
    /// the counters after a restart).
    pub async fn quotas(&self) -> Result<HashMap<String, QuotaSince>, KeyError> {
        Ok(repo::quotas(&self.db).await?.into_iter().collect())
    }

    /// Empties the key's counter of `quota` (an earlier quota over the same window left one).
    pub(super) async fn clear_quota_count(&self, key: &ApiKey, quota: KeyQuota) -> Result<(), KeyError> {
        let account = crate::accounts::repo::account_by_id(&self.db, &key.account_id).await?;
        let anchor_day = account.ok_or(KeyError::NotFound)?.billing_anchor_day;
        let cleared = self.limiter.reset(&quota.spec(anchor_day), &key.id).await;
        cleared.map_err(|_| KeyError::Unavailable)
    }
}
