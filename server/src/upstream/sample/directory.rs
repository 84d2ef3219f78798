//! Read-only sample routes: licence checks, jurisdictions, operator search, snapshots.

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;
use serde_json::{Value, json};

use super::catalog::{self, OPERATORS, Operator, SECTIONS, SNAPSHOTS, Snapshot};
use super::{PathParams, SampleError, quoted};

/// Rows of an operator search when the caller names no `limit`, and the most it may ask for.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;
/// The longest name or search text: no operator's name comes near it.
const MAX_SEARCH_CHARS: usize = 200;

type Answer = Result<Json<Value>, SampleError>;

/// A query string, or a 400 when it cannot be read.
fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, SampleError> {
    query.map(|Query(query)| query).map_err(|rejection| SampleError::BadRequest(rejection.body_text()))
}

#[derive(Deserialize)]
pub struct CheckQuery {
    name: Option<String>,
}

/// `GET /v1/check?name=`: is an operator of that name licensed anywhere?
pub async fn check_licence(params: Result<Query<CheckQuery>, QueryRejection>) -> Answer {
    let name = query(params)?.name.unwrap_or_default();
    check_length("name", &name)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(SampleError::BadRequest("Give the operator's name as `?name=`.".into()));
    }
    let matches: Vec<&Operator> = OPERATORS.iter().filter(|op| name_matches(op, name)).collect();
    Ok(Json(json!({
        "query": name,
        "licensed": matches.iter().any(|op| op.is_licensed()),
        "matches": matches,
    })))
}

/// A 400 for search text longer than any name it could match.
fn check_length(parameter: &str, text: &str) -> Result<(), SampleError> {
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(SampleError::BadRequest(format!(
            "`{parameter}` must be at most {MAX_SEARCH_CHARS} characters."
        )));
    }
    Ok(())
}

fn name_matches(operator: &Operator, wanted: &str) -> bool {
    operator.name.to_lowercase().contains(&wanted.to_lowercase())
}

/// `GET /v1/jurisdictions`.
pub async fn list_jurisdictions() -> Json<Value> {
    Json(json!({ "data": catalog::JURISDICTIONS, "count": catalog::JURISDICTIONS.len() }))
}

/// `GET /v1/jurisdictions/{code}/operators`.
pub async fn list_jurisdiction_operators(PathParams(code): PathParams<String>) -> Answer {
    let jurisdiction = catalog::jurisdiction(&code)
        .ok_or_else(|| SampleError::NotFound(format!("There is no jurisdiction {}.", quoted(&code))))?;
    let rows: Vec<&Operator> = OPERATORS.iter().filter(|op| op.jurisdiction == jurisdiction.code).collect();
    Ok(Json(json!({ "jurisdiction": jurisdiction, "data": rows, "count": rows.len() })))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    jurisdiction: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/operators/search?q=&jurisdiction=&limit=`: exactly `min(limit, matches)` rows.
pub async fn search_operators(params: Result<Query<SearchQuery>, QueryRejection>) -> Answer {
    let params = query(params)?;
    let limit = parse_limit(params.limit.as_deref())?;
    let wanted = params.q.unwrap_or_default();
    check_length("q", &wanted)?;
    let matching: Vec<&Operator> = OPERATORS
        .iter()
        .filter(|op| name_matches(op, wanted.trim()))
        .filter(|op| {
            params.jurisdiction.as_deref().is_none_or(|code| op.jurisdiction.eq_ignore_ascii_case(code))
        })
        .collect();
    let rows = &matching[..limit.min(matching.len())];
    Ok(Json(json!({ "data": rows, "count": rows.len(), "total": matching.len(), "limit": limit })))
}

fn parse_limit(limit: Option<&str>) -> Result<usize, SampleError> {
    let Some(limit) = limit else { return Ok(DEFAULT_LIMIT) };
    match limit.trim().parse::<usize>() {
        Ok(limit @ 1..=MAX_LIMIT) => Ok(limit),
        _ => Err(SampleError::BadRequest(format!("`limit` must be a whole number from 1 to {MAX_LIMIT}."))),
    }
}

/// `GET /v1/snapshots`. The catalogue never changes, so its JSON is written once.
pub async fn list_snapshots() -> impl axum::response::IntoResponse {
    static BODY: std::sync::LazyLock<axum::body::Bytes> = std::sync::LazyLock::new(|| {
        let list = json!({ "data": SNAPSHOTS, "count": SNAPSHOTS.len() });
        axum::body::Bytes::from(serde_json::to_vec(&list).unwrap_or_default())
    });
    ([(axum::http::header::CONTENT_TYPE, "application/json")], BODY.clone())
}

fn find_snapshot(id: &str) -> Result<&'static Snapshot, SampleError> {
    catalog::snapshot(id)
        .ok_or_else(|| SampleError::NotFound(format!("There is no snapshot {}.", quoted(id))))
}

/// `GET /v1/snapshots/{id}`: the snapshot with its sections' keys.
pub async fn get_snapshot(PathParams(id): PathParams<String>) -> Answer {
    let snapshot = find_snapshot(&id)?;
    let sections: Vec<&str> = SECTIONS.iter().map(|(key, _)| *key).collect();
    Ok(Json(json!({ "snapshot": snapshot, "sections": sections })))
}

/// `GET /v1/snapshots/{id}/sections`.
pub async fn list_snapshot_sections(PathParams(id): PathParams<String>) -> Answer {
    let snapshot = find_snapshot(&id)?;
    let sections: Vec<Value> = SECTIONS.iter().map(|(key, _)| section(snapshot, key)).collect();
    Ok(Json(json!({ "snapshot_id": snapshot.id, "data": sections })))
}

/// `GET /v1/snapshots/{id}/sections/{key}`.
pub async fn get_snapshot_section(PathParams((id, key)): PathParams<(String, String)>) -> Answer {
    let snapshot = find_snapshot(&id)?;
    if !SECTIONS.iter().any(|(known, _)| *known == key) {
        return Err(SampleError::NotFound(format!(
            "Snapshot {} has no section {}.",
            quoted(&id),
            quoted(&key)
        )));
    }
    Ok(Json(section(snapshot, &key)))
}

fn section(snapshot: &Snapshot, key: &str) -> Value {
    let title = SECTIONS.iter().find(|(known, _)| *known == key).map_or(key, |(_, title)| title);
    json!({
        "key": key,
        "title": title,
        "text": format!("{title} for {} ({}), as of {}.", snapshot.title, snapshot.area, snapshot.as_of),
    })
}

/// `GET /v1/snapshots/{id}/changes`: what changed since the previous quarter.
pub async fn list_snapshot_changes(PathParams(id): PathParams<String>) -> Answer {
    let snapshot = find_snapshot(&id)?;
    let changes = json!([
        { "effective": "2025-01-17", "summary": format!("Updated {} guidance published", snapshot.area) },
        { "effective": "2025-03-03", "summary": "Consultation response: revised reporting thresholds" },
    ]);
    Ok(Json(json!({ "snapshot_id": snapshot.id, "data": changes })))
}
