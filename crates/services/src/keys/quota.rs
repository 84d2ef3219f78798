//! A key's own quota as the dashboard and a restart read it: what each key used of it, from
//! the limiter store the gateway enforces against, and every key's quota at once.

use std::collections::HashMap;

use limiter::Charge;
use policy::KeyQuota;

use super::{ApiKey, KeyError, Keys, repo};

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

    /// Every unrevoked key's own quota, by key id (for refilling the counters after a restart).
    pub async fn quotas(&self) -> Result<HashMap<String, KeyQuota>, KeyError> {
        Ok(repo::quotas(&self.db).await?.into_iter().collect())
    }
}
