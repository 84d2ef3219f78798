//! How long rollup rows are kept, and the prune that deletes older ones.

use chrono::{DateTime, Utc};
use services::Database;

use crate::error::UsageError;

/// How long rollup rows are kept. Day rows are kept forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub minutes: chrono::Duration,
    pub hours: chrono::Duration,
    /// The per-account minutes billing reads; long enough for the current and the previous
    /// billing month.
    pub account_minutes: chrono::Duration,
    /// The least time between two prunes.
    pub prune_every: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            minutes: chrono::Duration::hours(48),
            hours: chrono::Duration::days(90),
            account_minutes: chrono::Duration::days(70),
            prune_every: chrono::Duration::minutes(1),
        }
    }
}

/// Rows deleted by retention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub minutes: u64,
    pub hours: u64,
    pub account_minutes: u64,
}

/// Deletes minute, hour and account-minute rows older than their retention at `now`.
pub(crate) async fn prune(
    db: &Database,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Pruned, UsageError> {
    let mut deleted = [0; 3];
    let tables = [
        ("usage_minutes", retention.minutes),
        ("usage_hours", retention.hours),
        ("usage_account_minutes", retention.account_minutes),
    ];
    for (count, (table, keep)) in deleted.iter_mut().zip(tables) {
        let before = (now - keep).timestamp_millis();
        let sql = format!("DELETE FROM {table} WHERE bucket_start < $1");
        *count = sqlx::query(&sql).bind(before).execute(db.pool()).await?.rows_affected();
    }
    let [minutes, hours, account_minutes] = deleted;
    Ok(Pruned { minutes, hours, account_minutes })
}
