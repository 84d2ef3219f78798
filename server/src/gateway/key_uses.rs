//! Last-used times, gathered in memory per key and written in one batch a second, never per
//! request. A graceful shutdown writes what is left.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use services::keys::{KeyUse, Keys};

#[derive(Default)]
pub struct KeyUses {
    latest: Mutex<HashMap<(String, bool), DateTime<Utc>>>,
}

impl KeyUses {
    pub fn record(&self, key_id: &str, via_previous: bool, at: DateTime<Utc>) {
        let mut latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match latest.get_mut(&(key_id.to_owned(), via_previous)) {
            Some(seen) if *seen >= at => {}
            Some(seen) => *seen = at,
            None => {
                latest.insert((key_id.to_owned(), via_previous), at);
            }
        }
    }

    /// Writes the gathered times; on failure they are kept for the next flush.
    pub async fn flush(&self, keys: &Keys) {
        let batch: Vec<KeyUse> = {
            let mut latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            latest.drain().map(|((key_id, via_previous), at)| KeyUse { key_id, via_previous, at }).collect()
        };
        if let Err(error) = keys.record_use(&batch).await {
            tracing::warn!(%error, "could not record key use; keeping it for the next flush");
            for key_use in batch {
                self.record(&key_use.key_id, key_use.via_previous, key_use.at);
            }
        }
    }
}
