//! Last uses (time and client address), gathered in memory per key and written in one batch a
//! second, never per request. A graceful shutdown writes what is left.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use services::keys::{KeyUse, Keys};

/// One secret's latest use: when, and from which address.
type Use = Option<(DateTime<Utc>, IpAddr)>;

/// Per key id: the latest use of its current secret and of its previous one (in grace).
type Latest = HashMap<String, [Use; 2]>;

#[derive(Default)]
pub struct KeyUses {
    latest: Mutex<Latest>,
}

impl KeyUses {
    /// Allocates only for a key not seen since the last flush.
    pub fn record(&self, key_id: &str, via_previous: bool, at: DateTime<Utc>, from: IpAddr) {
        let mut latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let seen = match latest.get_mut(key_id) {
            Some(uses) => &mut uses[usize::from(via_previous)],
            None => &mut latest.entry(key_id.to_owned()).or_default()[usize::from(via_previous)],
        };
        if seen.is_none_or(|(seen, _)| seen < at) {
            *seen = Some((at, from));
        }
    }

    /// Writes the gathered uses; on failure they are kept for the next flush.
    pub async fn flush(&self, keys: &Keys) {
        let batch: Vec<KeyUse> = {
            let mut latest = self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            latest
                .drain()
                .flat_map(|(key_id, uses)| {
                    [false, true].into_iter().filter_map(move |via_previous| {
                        let (at, from) = uses[usize::from(via_previous)]?;
                        Some(KeyUse { key_id: key_id.clone(), via_previous, at, from })
                    })
                })
                .collect()
        };
        if let Err(error) = keys.record_use(&batch).await {
            tracing::warn!(%error, "could not record key use; keeping it for the next flush");
            for key_use in batch {
                self.record(&key_use.key_id, key_use.via_previous, key_use.at, key_use.from);
            }
        }
    }
}
