//! The latest refused requests of each account, for its owner to see why a call failed ("which
//! key, which route, which limit?") without asking support.
//!
//! A sample for diagnosis, not a count: the counts are in the rollups. The gateway hands each
//! refusal to the recorder ([`crate::UsageRecorder::refused`]), which keeps the newest
//! [`KEPT_PER_ACCOUNT`] per account in memory; each flush writes them and deletes an account's
//! rows beyond its newest [`KEPT_PER_ACCOUNT`]. So a key hammered with 429s costs at most that
//! many inserts per flush, and the table at most that many rows per account. A failed write is
//! logged and its sample dropped: unlike the counts, nothing bills from it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use services::Database;
use sqlx::Row;

use crate::error::UsageError;
use crate::periods::from_millis;
use crate::sql::insert_sql;

/// The refusals kept per account, in memory between flushes and in SQL.
pub const KEPT_PER_ACCOUNT: usize = 100;

/// The longest path kept, in bytes; longer ones are cut (at a character boundary) and marked.
const MAX_PATH: usize = 200;

/// One refused request, as its account's owner may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub account_id: String,
    pub key_id: String,
    pub at: DateTime<Utc>,
    pub method: String,
    /// The path without its query (which may hold anything the client put there).
    pub path: String,
    /// 429 or 403.
    pub status: u16,
    /// The bucket that refused it, or [`crate::SPEND_CAP`] / [`crate::RESTRICTED`].
    pub bucket: String,
    pub client_ip: String,
    /// The `X-Request-Id` the client was answered with.
    pub request_id: String,
}

impl Refusal {
    /// `path` cut to [`MAX_PATH`] bytes.
    pub fn short_path(path: &str) -> String {
        if path.len() <= MAX_PATH {
            return path.to_owned();
        }
        let mut end = MAX_PATH;
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &path[..end])
    }
}

/// Refusals not yet written, newest last, at most [`KEPT_PER_ACCOUNT`] per account.
#[derive(Debug, Default)]
pub(crate) struct PendingRefusals(Mutex<HashMap<String, VecDeque<Refusal>>>);

impl PendingRefusals {
    pub(crate) fn push(&self, refusal: Refusal) {
        let mut pending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = pending.entry(refusal.account_id.clone()).or_default();
        if queue.len() == KEPT_PER_ACCOUNT {
            queue.pop_front();
        }
        queue.push_back(refusal);
    }

    pub(crate) fn take(&self) -> HashMap<String, VecDeque<Refusal>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Rows per INSERT statement: 9 parameters each, well under SQLite's and PostgreSQL's limits.
const ROWS_PER_STATEMENT: usize = 100;

/// The table's columns, in the order rows are bound.
const COLUMNS: [&str; 9] =
    ["account_id", "key_id", "at", "method", "path", "status", "bucket", "client_ip", "request_id"];

/// Writes the refusals and trims each of their accounts to its newest [`KEPT_PER_ACCOUNT`]
/// rows, in one transaction.
pub(crate) async fn write(
    db: &Database,
    batch: HashMap<String, VecDeque<Refusal>>,
) -> Result<usize, UsageError> {
    let refusals: Vec<&Refusal> = batch.values().flatten().collect();
    let mut tx = db.pool().begin().await?;
    for chunk in refusals.chunks(ROWS_PER_STATEMENT) {
        let sql = insert_sql("usage_refusals", &COLUMNS, chunk.len());
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
        for refusal in chunk {
            query = query
                .bind(&refusal.account_id)
                .bind(&refusal.key_id)
                .bind(refusal.at.timestamp_millis())
                .bind(&refusal.method)
                .bind(&refusal.path)
                .bind(i64::from(refusal.status))
                .bind(&refusal.bucket)
                .bind(&refusal.client_ip)
                .bind(&refusal.request_id);
        }
        query.execute(&mut *tx).await?;
    }
    for account_id in batch.keys() {
        // Ties at the cut-off instant may keep a few more; the table stays bounded all the same.
        sqlx::query(
            "DELETE FROM usage_refusals WHERE account_id = $1 AND at < (SELECT MIN(at) FROM \
               (SELECT at FROM usage_refusals WHERE account_id = $1 ORDER BY at DESC LIMIT $2) AS newest)",
        )
        .bind(account_id)
        .bind(KEPT_PER_ACCOUNT as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(refusals.len())
}

/// The account's latest refusals (of one key, if given), newest first, at most `limit`.
pub(crate) async fn latest(
    db: &Database,
    account_id: &str,
    key_id: Option<&str>,
    limit: usize,
) -> Result<Vec<Refusal>, UsageError> {
    let columns = COLUMNS.join(", ");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match key_id {
        Some(key_id) => {
            sqlx::query(&format!(
                "SELECT {columns} FROM usage_refusals WHERE account_id = $1 AND key_id = $2 ORDER BY at DESC LIMIT $3"
            ))
            .bind(account_id)
            .bind(key_id)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query(&format!("SELECT {columns} FROM usage_refusals WHERE account_id = $1 ORDER BY at DESC LIMIT $2"))
                .bind(account_id)
                .bind(limit)
                .fetch_all(db.pool())
                .await?
        }
    };
    rows.iter()
        .map(|row| {
            Ok(Refusal {
                account_id: row.try_get("account_id")?,
                key_id: row.try_get("key_id")?,
                at: from_millis(row.try_get("at")?),
                method: row.try_get("method")?,
                path: row.try_get("path")?,
                status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(0),
                bucket: row.try_get("bucket")?,
                client_ip: row.try_get("client_ip")?,
                request_id: row.try_get("request_id")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(account_id: &str, n: usize) -> Refusal {
        Refusal {
            account_id: account_id.to_owned(),
            key_id: "key".to_owned(),
            at: DateTime::<Utc>::UNIX_EPOCH,
            method: "GET".to_owned(),
            path: format!("/v1/check/{n}"),
            status: 429,
            bucket: "reads".to_owned(),
            client_ip: "203.0.113.7".to_owned(),
            request_id: format!("req_{n}"),
        }
    }

    #[test]
    fn memory_keeps_the_newest_of_each_account() {
        let pending = PendingRefusals::default();
        for n in 0..KEPT_PER_ACCOUNT + 5 {
            pending.push(refusal("busy", n));
        }
        pending.push(refusal("quiet", 0));
        let taken = pending.take();
        assert_eq!(taken["busy"].len(), KEPT_PER_ACCOUNT);
        assert_eq!(taken["busy"].front().map(|r| r.request_id.as_str()), Some("req_5"));
        assert_eq!(taken["quiet"].len(), 1);
        assert!(pending.take().is_empty());
    }

    #[test]
    fn long_paths_are_cut_at_a_character() {
        assert_eq!(Refusal::short_path("/v1/check"), "/v1/check");
        let long = format!("/v1/{}", "é".repeat(200));
        let short = Refusal::short_path(&long);
        assert!(short.len() <= MAX_PATH + '…'.len_utf8() && short.ends_with('…'), "{short}");
    }
}
