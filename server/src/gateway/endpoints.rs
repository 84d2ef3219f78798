//! The gateway's own endpoints, answered after the key is verified.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use services::gauges::{self, Gauge, Subject};

use super::Gateway;
use super::callers::ResolvedKey;
use super::problems;

#[derive(Serialize)]
struct Limits {
    buckets: Vec<Gauge>,
}

/// `GET /v1/limits`: every bucket the calling key can be charged, as it stands; charges nothing.
pub async fn limits(State(gateway): State<Gateway>, Extension(key): Extension<Arc<ResolvedKey>>) -> Response {
    let subject = Subject {
        account_id: &key.account_id,
        plan_id: &key.plan_id,
        anchor_day: key.anchor_day,
        overrides: &key.overrides,
        key_id: Some(&key.key_id),
        user_id: None,
    };
    match gauges::read(&gateway.services, &subject).await {
        Ok(buckets) => Json(Limits { buckets }).into_response(),
        Err(error) => {
            tracing::error!(%error, "could not read limits");
            problems::unavailable(None, "")
        }
    }
}
