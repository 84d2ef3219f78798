//! Writing a batch of pending counts: additive upserts into the minute, hour, day and
//! account-minute rollups, in one transaction.
//!
//! Rows are written in primary-key order, so two nodes flushing the same rows at once take their
//! row locks in the same order and cannot deadlock each other.

use std::collections::BTreeMap;

use services::Database;
use sqlx::{Any, Transaction};

use crate::error::UsageError;
use crate::periods::Granularity;
use crate::recorder::{Counts, Pending};
use crate::sql::insert_sql;

/// Rows per INSERT statement: 7 parameters each, well under SQLite's and PostgreSQL's limits.
const ROWS_PER_STATEMENT: usize = 256;

/// One rollup row: `key_id` and `bucket` are unused in `usage_account_minutes`.
type RowKey<'a> = (&'a str, i64, &'a str, &'a str);

/// Sums the pending rows into buckets of `granularity`, in primary-key order. The account
/// minutes, which billing reads, leave out the requests served free (see [`Pending::billed`]).
fn roll_up(rows: &[Pending], granularity: Granularity, per_key: bool) -> Vec<(RowKey<'_>, Counts)> {
    let mut sums: BTreeMap<RowKey<'_>, Counts> = BTreeMap::new();
    for row in rows.iter().filter(|row| per_key || row.billed) {
        let start = granularity.floor_ms(row.minute);
        let key = if per_key {
            (&*row.account_id, start, &*row.key_id, &*row.bucket)
        } else {
            (&*row.account_id, start, "", "")
        };
        sums.entry(key).or_default().add(row.counts);
    }
    sums.into_iter().collect()
}

/// Writes the batch in one transaction; the number of minute rows it upserted. The same key
/// may come from several shards: the roll-ups merge them (PostgreSQL refuses a statement that
/// upserts one row twice).
pub(crate) async fn write_batch(db: &Database, rows: &[Pending]) -> Result<usize, UsageError> {
    let mut tx = db.pool().begin().await?;
    let mut minute_rows = 0;
    for granularity in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
        let rolled = roll_up(rows, granularity, true);
        if granularity == Granularity::Minute {
            minute_rows = rolled.len();
        }
        upsert(&mut tx, granularity.table(), true, &rolled).await?;
    }
    upsert(&mut tx, "usage_account_minutes", false, &roll_up(rows, Granularity::Minute, false)).await?;
    tx.commit().await?;
    Ok(minute_rows)
}

async fn upsert(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    per_key: bool,
    rows: &[(RowKey<'_>, Counts)],
) -> Result<(), UsageError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = upsert_sql(table, per_key, chunk.len());
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
        for ((account_id, start, key_id, bucket), counts) in chunk {
            query = query.bind(*account_id).bind(*start);
            if per_key {
                query = query.bind(*key_id).bind(*bucket);
            }
            query = query
                .bind(to_bigint(counts.requests))
                .bind(to_bigint(counts.limited))
                .bind(to_bigint(counts.cost));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `INSERT … VALUES (…), (…) ON CONFLICT (primary key) DO UPDATE SET` each count to the sum.
fn upsert_sql(table: &str, per_key: bool, rows: usize) -> String {
    let keys: &[&str] = if per_key {
        &["account_id", "bucket_start", "key_id", "bucket"]
    } else {
        &["account_id", "bucket_start"]
    };
    let counts = ["requests", "limited", "cost"];
    let mut sql = insert_sql(table, &[keys, &counts].concat(), rows);
    let sums: Vec<String> = counts.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    sql.push_str(&format!(" ON CONFLICT ({}) DO UPDATE SET {}", keys.join(", "), sums.join(", ")));
    sql
}

fn to_bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_number_parameters_in_order_and_add_to_the_stored_counts() {
        assert_eq!(
            upsert_sql("usage_account_minutes", false, 2),
            "INSERT INTO usage_account_minutes (account_id, bucket_start, requests, limited, cost) \
             VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) ON CONFLICT (account_id, bucket_start) \
             DO UPDATE SET requests = usage_account_minutes.requests + excluded.requests, \
             limited = usage_account_minutes.limited + excluded.limited, \
             cost = usage_account_minutes.cost + excluded.cost"
        );
        assert!(
            upsert_sql("usage_minutes", true, 256)
                .contains("($1786, $1787, $1788, $1789, $1790, $1791, $1792)")
        );
    }

    #[test]
    fn rollups_sum_minutes_into_hours_and_days_in_key_order() {
        let row = |minute: i64, key_id: &str, requests| Pending {
            minute,
            account_id: "a".into(),
            key_id: key_id.into(),
            bucket: "reads".into(),
            billed: true,
            counts: Counts { requests, limited: 0, cost: requests },
        };
        let hour = Granularity::Hour.millis();
        // Served free: in the hours, not in the account minutes that billing reads.
        let free = Pending {
            billed: false,
            counts: Counts { requests: 16, limited: 0, cost: 0 },
            ..row(0, "k1", 0)
        };
        let rows =
            [row(hour + 60_000, "k2", 1), row(hour, "k1", 2), row(0, "k1", 4), row(hour, "k2", 8), free];
        let hours: Vec<_> = roll_up(&rows, Granularity::Hour, true)
            .into_iter()
            .map(|(k, c)| (k.1, k.2, c.requests))
            .collect();
        assert_eq!(hours, vec![(0, "k1", 20), (hour, "k1", 2), (hour, "k2", 9)]);
        let accounts: Vec<_> =
            roll_up(&rows, Granularity::Minute, false).into_iter().map(|(k, c)| (k.1, c.requests)).collect();
        assert_eq!(accounts, vec![(0, 4), (hour, 10), (hour + 60_000, 1)]);
    }
}
