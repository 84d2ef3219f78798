//! Server side of the Usage page: charts of the whole account or one key (per minute over the
//! last hour, per hour over 48 hours, per day over 30 days, allowed and limited), the per-key
//! table of this billing month, the latest refused requests, and the CSV of the charts and the
//! table. Every figure comes from the usage rollups the gateway writes.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// Everything the Usage page shows, for the whole account or one key, optionally one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    /// (id, name) of every key of the account, revoked ones included: their history stays.
    pub keys: Vec<(String, String)>,
    /// The key the charts show; `None`: the whole account.
    pub selected_key: Option<String>,
    /// The buckets a chart can be filtered by that count every call: the routes' categories
    /// (an admitted request is counted under its category).
    pub buckets: Vec<String>,
    /// The buckets a chart can be filtered by that count only refusals: those that refuse
    /// requests besides the categories (a plan's, the key's own quota, the spend cap, the key's
    /// restrictions).
    pub refusal_buckets: Vec<String>,
    pub selected_bucket: Option<String>,
    pub charts: Vec<UsageChartData>,
    /// This billing month, per key, busiest first (what `/v1/usage?group_by=key` returns).
    pub table: Vec<KeyUsageRow>,
    /// The table's period, for its caption: "Nov 1 – Nov 24".
    pub table_period: String,
    /// The latest refused requests of the key (or the account) in the bucket (or any), newest
    /// first, at most [`LATEST_REFUSALS`].
    pub refusals: Vec<RefusalRow>,
}

/// The refused requests the Usage page lists.
pub const LATEST_REFUSALS: usize = 20;

/// A refused request: when, which key, what it asked, the answer and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalRow {
    /// RFC 3339 UTC, to the second.
    pub at: String,
    pub key_name: String,
    /// `GET /v1/snapshots`.
    pub request: String,
    pub status: u16,
    /// The refusing bucket, `spend_cap` or `restricted`.
    pub bucket: String,
    pub client_ip: String,
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageChartData {
    /// `minute`, `hour` or `day`: the element ids and the CSV use it.
    pub span: String,
    pub title: String,
    pub points: Vec<UsagePoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePoint {
    /// The point's start, RFC 3339 UTC.
    pub start: String,
    /// The axis label: `14:05`, `Nov 24 14:00`, `Nov 24`.
    pub label: String,
    pub allowed: u64,
    pub limited: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsageRow {
    pub key_id: String,
    pub name: String,
    pub requests: u64,
    pub limited: u64,
    pub cost: u64,
}

impl UsageReport {
    /// The charts as CSV: one row per point.
    pub fn series_csv(&self) -> String {
        let key = self.selected_key.as_deref().unwrap_or("all");
        let bucket = self.selected_bucket.as_deref().unwrap_or("all");
        let mut csv = String::from("granularity,start,key_id,bucket,allowed,limited\n");
        for chart in &self.charts {
            for point in &chart.points {
                csv.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    chart.span,
                    point.start,
                    csv_field(key),
                    csv_field(bucket),
                    point.allowed,
                    point.limited
                ));
            }
        }
        csv
    }

    /// The per-key table as CSV.
    pub fn table_csv(&self) -> String {
        let mut csv = String::from("key_id,name,requests,limited,cost\n");
        for row in &self.table {
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                csv_field(&row.key_id),
                csv_field(&row.name),
                row.requests,
                row.limited,
                row.cost
            ));
        }
        csv
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run a key's name as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[server]
pub async fn load_usage(key_id: Option<String>, bucket: Option<String>) -> Result<UsageReport, AppError> {
    use crate::auth::ssr::{require_user, services};
    let user = require_user().await?;
    ssr::usage_report(&services()?, &user, key_id, bucket).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use chrono::{DateTime, Utc};
    use services::Services;
    use services::accounts::User;
    use usage::{ChartSpan, SeriesQuery, UsageQueries};

    use super::*;
    use crate::auth::ssr::internal;

    const SPANS: [(ChartSpan, &str, &str); 3] = [
        (ChartSpan::LastHour, "minute", "Requests per minute, last hour"),
        (ChartSpan::LastTwoDays, "hour", "Requests per hour, last 48 hours"),
        (ChartSpan::LastThirtyDays, "day", "Requests per day, last 30 days"),
    ];

    /// The Usage page's data for `user`'s account. A key or bucket that is not the account's
    /// is ignored (the whole account and all buckets are shown instead), so another tenant's ids
    /// read nothing.
    pub async fn usage_report(
        services: &Services,
        user: &User,
        key_id: Option<String>,
        bucket: Option<String>,
    ) -> Result<UsageReport, AppError> {
        let account_id = user.account_id.as_deref().ok_or(AppError::Forbidden)?;
        let account =
            services.accounts.account(account_id).await.map_err(internal)?.ok_or(AppError::Forbidden)?;
        let queries = UsageQueries::new(services.db.clone());
        let now = services.clock.now();
        let (month_start, _) = limiter::billing_month(now, account.billing_anchor_day);
        let this_minute_end = usage::Granularity::Minute.end_of(now);
        let keys = services.keys.list(account_id).await.map_err(internal)?;
        let totals = queries.key_totals(account_id, month_start, this_minute_end).await.map_err(internal)?;
        let table: Vec<KeyUsageRow> = totals
            .into_iter()
            .filter_map(|usage| {
                let key_id = usage.key_id?;
                let name = keys.iter().find(|key| key.id == key_id).map(|key| key.name.clone())?;
                Some(KeyUsageRow {
                    key_id,
                    name,
                    requests: usage.counts.requests,
                    limited: usage.counts.limited,
                    cost: usage.counts.cost,
                })
            })
            .collect();
        let selected_key = key_id.filter(|id| keys.iter().any(|key| &key.id == id));
        // The buckets usage is counted under: the routes' category buckets, and for refused
        // requests the bucket that refused them (a plan's, the spend cap, the key's restrictions
        // or its own quota).
        let policy = services.policy.get();
        let categories: std::collections::BTreeSet<String> =
            policy.routes.iter().filter_map(|route| route.buckets.first().cloned()).collect();
        let refusal_buckets: Vec<String> = [
            policy::MONTHLY,
            policy::BURST,
            policy::DAILY_CAP,
            policy::KEY_QUOTA,
            usage::SPEND_CAP,
            usage::RESTRICTED,
        ]
        .into_iter()
        .filter(|name| !categories.contains(*name))
        .map(str::to_owned)
        .collect();
        let buckets: Vec<String> = categories.into_iter().collect();
        let selected_bucket = bucket.filter(|name| buckets.contains(name) || refusal_buckets.contains(name));
        let mut charts = Vec::new();
        for (span, name, title) in SPANS {
            let mut query = SeriesQuery::chart(account_id, selected_key.as_deref(), span, now);
            if let Some(bucket) = selected_bucket.as_deref() {
                query = query.in_bucket(bucket);
            }
            let points = queries.series(&query).await.map_err(internal)?;
            let points = points
                .into_iter()
                .map(|point| UsagePoint {
                    start: point.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    label: label(span, point.start),
                    allowed: point.allowed,
                    limited: point.limited,
                })
                .collect();
            charts.push(UsageChartData { span: name.to_owned(), title: title.to_owned(), points });
        }
        let refusals = queries
            .latest_refusals(account_id, selected_key.as_deref(), usage::refusals::KEPT_PER_ACCOUNT)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|refusal| selected_bucket.as_ref().is_none_or(|bucket| &refusal.bucket == bucket))
            .take(LATEST_REFUSALS)
            .map(|refusal| RefusalRow {
                at: refusal.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                key_name: keys
                    .iter()
                    .find(|key| key.id == refusal.key_id)
                    .map_or(refusal.key_id, |key| key.name.clone()),
                request: format!("{} {}", refusal.method, refusal.path),
                status: refusal.status,
                bucket: refusal.bucket,
                client_ip: refusal.client_ip,
                request_id: refusal.request_id,
            })
            .collect();
        Ok(UsageReport {
            keys: keys.into_iter().map(|key| (key.id, key.name)).collect(),
            selected_key,
            buckets,
            refusal_buckets,
            selected_bucket,
            charts,
            table,
            table_period: format!("{} – {}", month_start.format("%b %-d"), now.format("%b %-d, %H:%M UTC")),
            refusals,
        })
    }

    fn label(span: ChartSpan, start: DateTime<Utc>) -> String {
        let format = match span {
            ChartSpan::LastHour => "%H:%M",
            ChartSpan::LastTwoDays => "%b %-d %H:00",
            ChartSpan::LastThirtyDays => "%b %-d",
        };
        start.format(format).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
