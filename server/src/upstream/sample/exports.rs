//! Sample exports: `POST /v1/exports` renders a snapshot in one format, `GET /v1/exports/{id}`
//! reports it. Exports are ready at once.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::Export;
use super::{Caller, JsonBody, PathParams, SampleApi, SampleError, catalog, quoted};

#[derive(Deserialize)]
pub(super) struct ExportRequest {
    snapshot_id: String,
    #[serde(default = "default_format")]
    format: String,
}

fn default_format() -> String {
    "pdf".to_owned()
}

/// `POST /v1/exports` with `{"snapshot_id":"snap_uk_aml_2025q1","format":"pdf"}` → 202.
pub async fn create_export(
    State(api): State<SampleApi>,
    Caller(owner): Caller,
    JsonBody(wanted): JsonBody<ExportRequest>,
) -> Result<Response, SampleError> {
    let snapshot = catalog::snapshot(&wanted.snapshot_id).ok_or_else(|| {
        SampleError::Unprocessable(format!("There is no snapshot {} to export.", quoted(&wanted.snapshot_id)))
    })?;
    let format = catalog::EXPORT_FORMATS
        .iter()
        .copied()
        .find(|known| known.eq_ignore_ascii_case(&wanted.format))
        .ok_or_else(|| {
            let known = catalog::EXPORT_FORMATS.join(", ");
            SampleError::Unprocessable(format!("`format` must be one of {known}."))
        })?;
    let export = api.store.add_export(&owner, |id| Export { id, snapshot_id: snapshot.id, format });
    let mut response = (StatusCode::ACCEPTED, Json(describe(&export))).into_response();
    if let Ok(location) = HeaderValue::try_from(format!("/v1/exports/{}", export.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /v1/exports/{id}`.
pub async fn get_export(
    State(api): State<SampleApi>,
    Caller(owner): Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, SampleError> {
    let export = api
        .store
        .export(&owner, &id)
        .ok_or_else(|| SampleError::NotFound(format!("There is no export {}.", quoted(&id))))?;
    Ok(Json(describe(&export)))
}

fn describe(export: &Export) -> Value {
    json!({
        "id": export.id,
        "status": "ready",
        "snapshot_id": export.snapshot_id,
        "format": export.format,
        "size_bytes": 2048 + 512 * export.format.len(),
    })
}
