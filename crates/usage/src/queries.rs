//! Reading the rollups: per-key chart series, the per-key table of `/v1/usage?group_by=key`,
//! month-to-date totals, and the per-minute figures billing needs.
//!
//! Every query is scoped to one account (a key id of another account reads nothing), except
//! [`UsageQueries::costs_by_account_key_and_bucket`], which a restart uses to read every account in a
//! few queries, and [`UsageQueries::by_account`], the operator console's busiest accounts. Ranges are
//! `[from, to)` and count the buckets that start inside them; totals read whole days from
//! `usage_days` and only the ragged edges from hours and minutes (see [`crate::periods`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use services::Database;
use sqlx::Row;

use crate::error::UsageError;
use crate::periods::{ChartSpan, Granularity, from_millis, pieces};
use crate::recorder::Counts;

/// The most points one series may have (a week of minutes, 55 years of days).
pub const MAX_SERIES_POINTS: i64 = 20_160;

/// A chart of an account or one of its keys: which bucket, at what granularity over what range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesQuery<'a> {
    pub account_id: &'a str,
    /// `None`: the whole account, every key together.
    pub key_id: Option<&'a str>,
    /// `None`: all buckets together.
    pub bucket: Option<&'a str>,
    pub granularity: Granularity,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl<'a> SeriesQuery<'a> {
    /// One of the dashboard's charts of `key_id` (or the whole account) at `now`, all buckets
    /// together.
    pub fn chart(account_id: &'a str, key_id: Option<&'a str>, span: ChartSpan, now: DateTime<Utc>) -> Self {
        let (from, to) = span.range(now);
        SeriesQuery { account_id, key_id, bucket: None, granularity: span.granularity(), from, to }
    }

    /// The same chart for one bucket only.
    pub fn in_bucket(self, bucket: &'a str) -> Self {
        SeriesQuery { bucket: Some(bucket), ..self }
    }
}

/// One point of a chart: the requests admitted and limited in the bucket starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesPoint {
    pub start: DateTime<Utc>,
    pub allowed: u64,
    pub limited: u64,
}

/// One row of the per-key table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    /// `None`: calls made without a key.
    pub key_id: Option<String>,
    pub counts: Counts,
}

/// One account's traffic over a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUsage {
    pub account_id: String,
    pub counts: Counts,
}

/// One minute of an account's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteUsage {
    pub start: DateTime<Utc>,
    pub counts: Counts,
}

/// What the pricing tiers are computed from: the busiest minute's admitted requests, and the
/// admitted requests above the free number, minute by minute, summed; with every admitted
/// request, for the statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillingUsage {
    pub peak_rpm: u64,
    pub extra_requests: u64,
    pub served: u64,
}

/// The usage queries, on the shared pool.
#[derive(Debug, Clone)]
pub struct UsageQueries {
    db: Database,
}

impl UsageQueries {
    pub fn new(db: Database) -> Self {
        UsageQueries { db }
    }

    /// The account's latest refused requests (of one key, if given), newest first, at most
    /// `limit` (the table keeps [`crate::refusals::KEPT_PER_ACCOUNT`] per account).
    pub async fn latest_refusals(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::Refusal>, UsageError> {
        crate::refusals::latest(&self.db, account_id, key_id, limit).await
    }

    /// Allowed and limited requests per minute, hour or day, one point for every bucket from
    /// the one holding `from` up to `to`, zeros where nothing was recorded. Minute points older
    /// than 48 h and hour points older than 90 days are zeros too: retention deleted them.
    pub async fn series(&self, query: &SeriesQuery<'_>) -> Result<Vec<SeriesPoint>, UsageError> {
        let step = query.granularity.millis();
        let from = query.granularity.floor_ms(query.from.timestamp_millis());
        let to = query.to.timestamp_millis();
        if to < query.from.timestamp_millis() {
            return Err(UsageError::InvalidRange);
        }
        let points = (to - from + step - 1) / step;
        if points > MAX_SERIES_POINTS {
            return Err(UsageError::TooManyPoints { points, max: MAX_SERIES_POINTS });
        }
        // The optional filters take the placeholders after the three fixed ones, in this order.
        let filters: Vec<(&str, &str)> = [("key_id", query.key_id), ("bucket", query.bucket)]
            .into_iter()
            .filter_map(|(column, value)| Some((column, value?)))
            .collect();
        let filter_sql: String = filters
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!(" AND {column} = ${}", i + 4))
            .collect();
        let sql = format!(
            "SELECT bucket_start, CAST(SUM(requests) AS BIGINT), CAST(SUM(limited) AS BIGINT) FROM {} \
             WHERE account_id = $1 AND bucket_start >= $2 AND bucket_start < $3{filter_sql} \
             GROUP BY bucket_start",
            query.granularity.table()
        );
        let mut select = sqlx::query(&sql).bind(query.account_id).bind(from).bind(to);
        for (_, value) in filters {
            select = select.bind(value);
        }
        let mut recorded = BTreeMap::new();
        for row in select.fetch_all(self.db.pool()).await? {
            let requests = count(row.try_get(1)?);
            let limited = count(row.try_get(2)?);
            recorded.insert(row.try_get::<i64, _>(0)?, (requests.saturating_sub(limited), limited));
        }
        Ok((0..points)
            .map(|i| {
                let start = from + i * step;
                let (allowed, limited) = recorded.get(&start).copied().unwrap_or_default();
                SeriesPoint { start: from_millis(start), allowed, limited }
            })
            .collect())
    }

    /// Requests, limited requests and cost per key of the account over `[from, to)`, the
    /// busiest key first: the data of `/v1/usage?group_by=key`. Keys without traffic are absent.
    pub async fn key_totals(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<KeyUsage>, UsageError> {
        let mut keys: Vec<KeyUsage> = self
            .sums_by_key(account_id, from, to)
            .await?
            .into_iter()
            .map(|(key_id, counts)| KeyUsage { key_id: (!key_id.is_empty()).then_some(key_id), counts })
            .collect();
        keys.sort_by(|a, b| b.counts.requests.cmp(&a.counts.requests).then_with(|| a.key_id.cmp(&b.key_id)));
        Ok(keys)
    }

    /// Everything the account did over `[from, to)`, all keys and buckets: month-to-date usage
    /// with `from` the start of the billing month and `to` now.
    pub async fn account_totals(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Counts, UsageError> {
        let mut total = Counts::default();
        for counts in self.sums_by_key(account_id, from, to).await?.into_values() {
            total.add(counts);
        }
        Ok(total)
    }

    /// Sums per key id (`""`: no key) over `[from, to)`, reading each piece of the range from
    /// the coarsest rollup that holds it whole.
    async fn sums_by_key(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Counts>, UsageError> {
        let mut totals: BTreeMap<String, Counts> = BTreeMap::new();
        for piece in pieces(from.timestamp_millis(), to.timestamp_millis()) {
            let sql = format!(
                "SELECT key_id, CAST(SUM(requests) AS BIGINT), CAST(SUM(limited) AS BIGINT), \
                 CAST(SUM(cost) AS BIGINT) FROM {} \
                 WHERE account_id = $1 AND bucket_start >= $2 AND bucket_start < $3 GROUP BY key_id",
                piece.granularity.table()
            );
            let rows = sqlx::query(&sql)
                .bind(account_id)
                .bind(piece.from)
                .bind(piece.to)
                .fetch_all(self.db.pool())
                .await?;
            for row in rows {
                totals.entry(row.try_get(0)?).or_default().add(counts_at(&row, 1)?);
            }
        }
        Ok(totals)
    }

    /// The units charged over `[from, to)`, per account and then per key id (`""`: no key) and
    /// route bucket (`""`: none), for every account at once: a restart refills the in-memory
    /// limiter from this without a query per account.
    pub async fn costs_by_account_key_and_bucket(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashMap<String, HashMap<(String, String), u64>>, UsageError> {
        let mut costs: HashMap<String, HashMap<(String, String), u64>> = HashMap::new();
        for piece in pieces(from.timestamp_millis(), to.timestamp_millis()) {
            let sql = format!(
                "SELECT account_id, key_id, bucket, CAST(SUM(cost) AS BIGINT) FROM {} \
                 WHERE bucket_start >= $1 AND bucket_start < $2 GROUP BY account_id, key_id, bucket",
                piece.granularity.table()
            );
            let rows = sqlx::query(&sql).bind(piece.from).bind(piece.to).fetch_all(self.db.pool()).await?;
            for row in rows {
                let cost = u64::try_from(row.try_get::<i64, _>(3)?).unwrap_or(0);
                let key_and_bucket = (row.try_get(1)?, row.try_get(2)?);
                *costs.entry(row.try_get(0)?).or_default().entry(key_and_bucket).or_default() += cost;
            }
        }
        Ok(costs)
    }

    /// Requests, limited requests and cost per account over `[from, to)`, every account that
    /// had traffic, the busiest first. Calls that no account made (anonymous public calls) are
    /// left out.
    pub async fn by_account(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AccountUsage>, UsageError> {
        let mut totals: HashMap<String, Counts> = HashMap::new();
        for piece in pieces(from.timestamp_millis(), to.timestamp_millis()) {
            let sql = format!(
                "SELECT account_id, CAST(SUM(requests) AS BIGINT), CAST(SUM(limited) AS BIGINT), \
                 CAST(SUM(cost) AS BIGINT) FROM {} \
                 WHERE bucket_start >= $1 AND bucket_start < $2 AND account_id <> '' GROUP BY account_id",
                piece.granularity.table()
            );
            let rows = sqlx::query(&sql).bind(piece.from).bind(piece.to).fetch_all(self.db.pool()).await?;
            for row in rows {
                totals.entry(row.try_get(0)?).or_default().add(counts_at(&row, 1)?);
            }
        }
        let mut accounts: Vec<AccountUsage> =
            totals.into_iter().map(|(account_id, counts)| AccountUsage { account_id, counts }).collect();
        accounts.sort_by(|a, b| {
            b.counts.requests.cmp(&a.counts.requests).then_with(|| a.account_id.cmp(&b.account_id))
        });
        Ok(accounts)
    }

    /// The account's minutes that had traffic in `[from, to)`, oldest first (kept 70 days).
    pub async fn account_minutes(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MinuteUsage>, UsageError> {
        let (from, to) = minute_range(from, to);
        let rows = sqlx::query(
            "SELECT bucket_start, requests, limited, cost FROM usage_account_minutes \
             WHERE account_id = $1 AND bucket_start >= $2 AND bucket_start < $3 ORDER BY bucket_start",
        )
        .bind(account_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| Ok(MinuteUsage { start: from_millis(row.try_get(0)?), counts: counts_at(row, 1)? }))
            .collect()
    }

    /// Billing over `[from, to)`: the peak of admitted requests in one minute, the admitted
    /// requests above `free_per_minute` in each minute, summed, and all admitted requests.
    /// Limited requests were not served and are not billed.
    pub async fn peak_and_extra(
        &self,
        account_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        free_per_minute: u64,
    ) -> Result<BillingUsage, UsageError> {
        let (from, to) = minute_range(from, to);
        let row = sqlx::query(
            "SELECT COALESCE(MAX(requests - limited), 0), \
             COALESCE(CAST(SUM(CASE WHEN requests - limited > $1 THEN requests - limited - $1 ELSE 0 END) AS BIGINT), 0), \
             COALESCE(CAST(SUM(requests - limited) AS BIGINT), 0) \
             FROM usage_account_minutes WHERE account_id = $2 AND bucket_start >= $3 AND bucket_start < $4",
        )
        .bind(i64::try_from(free_per_minute).unwrap_or(i64::MAX))
        .bind(account_id)
        .bind(from)
        .bind(to)
        .fetch_one(self.db.pool())
        .await?;
        Ok(BillingUsage {
            peak_rpm: count(row.try_get(0)?),
            extra_requests: count(row.try_get(1)?),
            served: count(row.try_get(2)?),
        })
    }
}

/// The minutes starting in `[from, to)`, as the bounds of `bucket_start`.
fn minute_range(from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64) {
    (Granularity::Minute.ceil_ms(from.timestamp_millis()), Granularity::Minute.ceil_ms(to.timestamp_millis()))
}

/// requests, limited and cost from columns `first..first + 3`; NULL sums (no rows) are 0.
fn counts_at(row: &sqlx::any::AnyRow, first: usize) -> Result<Counts, sqlx::Error> {
    Ok(Counts {
        requests: count(row.try_get(first)?),
        limited: count(row.try_get(first + 1)?),
        cost: count(row.try_get(first + 2)?),
    })
}

fn count(value: Option<i64>) -> u64 {
    value.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}
