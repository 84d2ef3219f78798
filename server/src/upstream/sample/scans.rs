//! Sample scans: `POST /v1/scans` queues one, `GET /v1/scans/{id}` reports it, and
//! `GET /v1/scans/{id}/stream` plays its progress as server-sent events.
//!
//! A scan runs for [`STEPS`] stream intervals from its creation; its findings are a fixed
//! function of what it covers, one per jurisdiction and area.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Owner, Scan};
use super::{Caller, JsonBody, PathParams, SampleApi, SampleError, catalog, quoted};

/// Progress events a stream sends before `complete`.
pub const STEPS: u32 = 5;
/// Most jurisdictions or areas one scan may name.
const MAX_ITEMS: usize = 20;
/// Longest horizon a scan looks ahead, in months.
const MAX_HORIZON: u32 = 60;

#[derive(Deserialize)]
pub(super) struct ScanRequest {
    jurisdictions: Vec<String>,
    areas: Vec<String>,
    #[serde(default = "default_horizon")]
    horizon: u32,
}

fn default_horizon() -> u32 {
    12
}

/// `POST /v1/scans` with `{"jurisdictions":["UK"],"areas":["AML"],"horizon":12}` → 202.
pub async fn create_scan(
    State(api): State<SampleApi>,
    Caller(owner): Caller,
    JsonBody(wanted): JsonBody<ScanRequest>,
) -> Result<Response, SampleError> {
    let jurisdictions = known_items("jurisdictions", &wanted.jurisdictions, |code| {
        catalog::jurisdiction(code).map(|j| j.code)
    })?;
    let areas = known_items("areas", &wanted.areas, catalog::area)?;
    if !(1..=MAX_HORIZON).contains(&wanted.horizon) {
        return Err(SampleError::Unprocessable(format!("`horizon` must be 1 to {MAX_HORIZON} months.")));
    }
    let scan = api.store.add_scan(&owner, |id| Scan {
        id,
        jurisdictions,
        areas,
        horizon: wanted.horizon,
        created: Instant::now(),
    });
    let mut response = (StatusCode::ACCEPTED, Json(describe(&scan, api.stream_interval))).into_response();
    if let Ok(location) = HeaderValue::try_from(format!("/v1/scans/{}", scan.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The catalogue's spelling of every item, or a 422 naming the first unknown one.
fn known_items(
    field: &str,
    items: &[String],
    find: impl Fn(&str) -> Option<&'static str>,
) -> Result<Vec<&'static str>, SampleError> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(SampleError::Unprocessable(format!("`{field}` must list 1 to {MAX_ITEMS} items.")));
    }
    items
        .iter()
        .map(|item| {
            find(item).ok_or_else(|| {
                SampleError::Unprocessable(format!("`{field}` has an unknown item {}.", quoted(item)))
            })
        })
        .collect()
}

/// `GET /v1/scans/{id}`.
pub async fn get_scan(
    State(api): State<SampleApi>,
    Caller(owner): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, SampleError> {
    let scan = find_scan(&api, &owner, &id)?;
    Ok(Json(describe(&scan, api.stream_interval)))
}

fn find_scan(api: &SampleApi, owner: &Owner, id: &str) -> Result<Scan, SampleError> {
    api.store
        .scan(owner, id)
        .ok_or_else(|| SampleError::NotFound(format!("There is no scan {}.", quoted(id))))
}

fn describe(scan: &Scan, interval: Duration) -> Value {
    let run = interval * STEPS;
    let elapsed = scan.created.elapsed();
    let percent = if run.is_zero() { 100 } else { (elapsed.as_millis() * 100 / run.as_millis()).min(100) };
    let status = match percent {
        0 => "queued",
        100 => "completed",
        _ => "running",
    };
    let mut body = json!({
        "id": scan.id,
        "status": status,
        "progress": percent,
        "jurisdictions": scan.jurisdictions,
        "areas": scan.areas,
        "horizon": scan.horizon,
        "stream_url": format!("/v1/scans/{}/stream", scan.id),
    });
    if status == "completed" {
        body["findings"] = Value::from(findings(scan));
    }
    body
}

/// One finding per jurisdiction and area, a fixed function of the scan's scope.
fn findings(scan: &Scan) -> Vec<Value> {
    let pairs = scan.jurisdictions.iter().flat_map(|j| scan.areas.iter().map(move |a| (*j, *a)));
    pairs
        .map(|(jurisdiction, area)| {
            let changes = 1 + (jurisdiction.len() + area.len() + scan.horizon as usize) % 4;
            json!({
                "jurisdiction": jurisdiction,
                "area": area,
                "upcoming_changes": changes,
                "summary": format!("{changes} {area} changes expected in {jurisdiction} within {} months", scan.horizon),
            })
        })
        .collect()
}

/// `GET /v1/scans/{id}/stream`: [`STEPS`] `progress` events one interval apart, then `complete`,
/// each with its step as `id`. A reconnecting client (an `EventSource` does so whenever the
/// stream ends) sends the last id it saw as `Last-Event-ID`: the stream goes on after it, and
/// once `complete` was seen the answer is 204, which tells an `EventSource` to stop.
pub async fn stream_scan(
    State(api): State<SampleApi>,
    Caller(owner): Caller,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, SampleError> {
    let scan = find_scan(&api, &owner, &id)?;
    let last_seen =
        headers.get("last-event-id").and_then(|value| value.to_str().ok()?.trim().parse::<u32>().ok());
    let next_step = last_seen.map_or(1, |seen| seen.saturating_add(1));
    if next_step > STEPS + 1 {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut response = Sse::new(scan_events(scan, next_step, api.stream_interval)).into_response();
    // Tells buffering proxies in front (nginx) to pass events on at once.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The scan's events from `first` on.
fn scan_events(scan: Scan, first: u32, interval: Duration) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(first, move |step| {
        let scan = scan.clone();
        async move {
            if step > STEPS + 1 {
                return None;
            }
            if step > first {
                tokio::time::sleep(interval).await;
            }
            let event = if step <= STEPS { progress_event(&scan, step) } else { complete_event(&scan) };
            Some((Ok(event.id(step.to_string())), step + 1))
        }
    })
}

fn progress_event(scan: &Scan, step: u32) -> Event {
    let data = json!({ "scan_id": scan.id, "step": step, "of": STEPS, "progress": step * 100 / STEPS });
    Event::default().event("progress").data(data.to_string())
}

fn complete_event(scan: &Scan) -> Event {
    let data = json!({ "scan_id": scan.id, "status": "completed", "findings": findings(scan) });
    Event::default().event("complete").data(data.to_string())
}
