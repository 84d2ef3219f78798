//! The gateway's own endpoints, answered after the key is verified.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use services::gauges::{self, Gauge, Subject};
use usage::{Granularity, KeyUsage};

use super::Gateway;
use super::callers::ResolvedKey;
use super::problems;

#[derive(Serialize)]
struct Limits {
    buckets: Vec<Gauge>,
}

/// `GET /v1/limits`: every bucket the calling key can be charged, as it stands; charges nothing.
pub async fn limits(
    State(gateway): State<Gateway>,
    Extension(key): Extension<Arc<ResolvedKey>>,
    headers: HeaderMap,
) -> Response {
    let subject = Subject {
        account_id: &key.account_id,
        plan_id: &key.plan_id,
        anchor_day: key.anchor_day,
        overrides: &key.overrides,
        key_id: Some(&key.key_id),
        key_quota: key.restrictions.quota,
        user_id: None,
    };
    match gauges::read(&gateway.services, &subject).await {
        Ok(buckets) => Json(Limits { buckets }).into_response(),
        Err(error) => {
            let request_id = problems::request_id_of(&headers);
            tracing::error!(%error, request_id, "could not read limits");
            problems::unavailable(None, request_id)
        }
    }
}

#[derive(Deserialize)]
pub struct UsageParams {
    group_by: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Serialize)]
struct UsageByKey {
    group_by: &'static str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    data: Vec<KeyRow>,
}

/// One key's traffic: `requests` = `allowed` + `limited`; `cost` is the quota units its admitted
/// requests used (refused, exempt and unmetered requests use none).
#[derive(Serialize)]
struct KeyRow {
    key_id: String,
    name: String,
    start: String,
    requests: u64,
    allowed: u64,
    limited: u64,
    cost: u64,
}

/// `GET /v1/usage?group_by=key[&from=…&to=…]`: requests, limited requests and cost per key of
/// the calling key's account, busiest first, over `[from, to)` (RFC 3339; by default the
/// current billing month, this minute included). Counts reach the rollups within a second.
pub async fn usage(
    State(gateway): State<Gateway>,
    Extension(key): Extension<Arc<ResolvedKey>>,
    headers: HeaderMap,
    params: Result<Query<UsageParams>, QueryRejection>,
) -> Response {
    let request_id = problems::request_id_of(&headers);
    let Ok(Query(params)) = params else {
        return problems::bad_request("Give each of `group_by`, `from` and `to` at most once.", request_id);
    };
    if params.group_by.as_deref() != Some("key") {
        return problems::bad_request("Add `group_by=key`: usage is reported per key.", request_id);
    }
    let now = gateway.services.clock.now();
    let (month_start, _) = limiter::billing_month(now, key.anchor_day);
    let this_minute_end = Granularity::Minute.end_of(now);
    let (from, to) = match (
        instant(params.from.as_deref(), month_start),
        instant(params.to.as_deref(), this_minute_end),
    ) {
        (Some(from), Some(to)) if from < to => (from, to),
        (Some(_), Some(_)) => return problems::bad_request("`from` must be before `to`.", request_id),
        _ => {
            return problems::bad_request(
                "`from` and `to` are RFC 3339 instants from 1970 to 9999, like 2026-11-01T00:00:00Z.",
                request_id,
            );
        }
    };
    let totals = gateway.usage_queries.key_totals(&key.account_id, from, to).await;
    let keys = gateway.services.keys.list(&key.account_id).await;
    match (totals, keys) {
        (Ok(totals), Ok(keys)) => {
            let data = totals.into_iter().filter_map(|usage| key_row(usage, &keys)).collect();
            Json(UsageByKey { group_by: "key", from, to, data }).into_response()
        }
        (Err(error), _) => {
            tracing::error!(%error, request_id, "could not read usage");
            problems::unavailable(None, request_id)
        }
        (_, Err(error)) => {
            tracing::error!(%error, request_id, "could not list keys");
            problems::unavailable(None, request_id)
        }
    }
}

/// Another method than GET on the gateway's own endpoints: a problem with the request's id.
pub async fn wrong_method(headers: HeaderMap) -> Response {
    problems::method_not_allowed(None, problems::request_id_of(&headers))
}

/// `text` as an instant (`default` when absent); `None` when it is not RFC 3339 or, in UTC,
/// falls outside the years 1970 to 9999, which an answer could not write back as RFC 3339.
fn instant(text: Option<&str>, default: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let Some(text) = text else {
        return Some(default);
    };
    let at = DateTime::parse_from_rfc3339(text).ok()?.to_utc();
    (1970..=9999).contains(&at.year()).then_some(at)
}

/// The row of one key; usage without a key (none is recorded today) is left out.
fn key_row(usage: KeyUsage, keys: &[services::keys::ApiKey]) -> Option<KeyRow> {
    let key_id = usage.key_id?;
    let key = keys.iter().find(|key| key.id == key_id);
    Some(KeyRow {
        name: key.map_or_else(String::new, |key| key.name.clone()),
        start: key.map_or_else(String::new, |key| key.start.clone()),
        key_id,
        requests: usage.counts.requests,
        allowed: usage.counts.allowed(),
        limited: usage.counts.limited,
        cost: usage.counts.cost,
    })
}
