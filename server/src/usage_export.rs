//! `GET /usage/export.csv?what=series|keys[&key=…&bucket=…]`: the Usage page's charts or its
//! per-key table as CSV, for the signed-in user's account, built by the same code as the page.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use services::Services;

use crate::key_api::SignedIn;

#[derive(Deserialize)]
pub struct ExportParams {
    what: Option<String>,
    key: Option<String>,
    bucket: Option<String>,
}

pub async fn export_usage(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    Query(params): Query<ExportParams>,
) -> Response {
    let empty_to_none = |value: Option<String>| value.filter(|value| !value.is_empty());
    let report = app::usage::ssr::usage_report(
        &services,
        &user,
        empty_to_none(params.key),
        empty_to_none(params.bucket),
    )
    .await;
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, error.to_string()).into_response();
        }
    };
    let (csv, file) = match params.what.as_deref() {
        Some("series") => (report.series_csv(), "usage-series.csv"),
        Some("keys") => (report.table_csv(), "usage-by-key.csv"),
        _ => return (StatusCode::BAD_REQUEST, "Ask for what=series or what=keys.").into_response(),
    };
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
