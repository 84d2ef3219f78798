//! The gateway's own endpoints, answered after the key is verified.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use limiter::Charge;
use policy::Caller;
use serde::Serialize;

use super::Gateway;
use super::callers::ResolvedKey;
use super::problems;

#[derive(Serialize)]
struct Limits {
    buckets: Vec<BucketView>,
}

#[derive(Serialize)]
struct BucketView {
    name: String,
    scope: &'static str,
    window: String,
    limit: u64,
    used: u64,
    remaining: u64,
    reset_at: String,
    reset_seconds: u64,
}

/// `GET /v1/limits`: every bucket the calling key can be charged, as it stands; charges nothing.
pub async fn limits(State(gateway): State<Gateway>, Extension(key): Extension<Arc<ResolvedKey>>) -> Response {
    let policy = gateway.services.policy.get();
    let Some(plan) = policy.plan_or_default(&key.plan_id) else {
        return problems::unavailable(None, "");
    };
    let caller = Caller::Authenticated { plan, anchor_day: key.anchor_day, overrides: Some(&key.overrides) };
    let mut charges: Vec<Charge> = Vec::new();
    let routes = policy.routes.iter().map(Some).chain([None]);
    for route in routes {
        for spec in policy.charges(route, &caller).unwrap_or_default() {
            if charges.iter().any(|charge| charge.spec.name == spec.name) {
                continue;
            }
            let subject = match spec.scope {
                limiter::Scope::Account => key.account_id.clone(),
                _ => key.key_id.clone(),
            };
            charges.push(Charge { spec, subject, cost: 1 });
        }
    }
    let states = match gateway.services.limiter.peek(&charges).await {
        Ok(states) => states,
        Err(error) => {
            tracing::error!(%error, "limiter store failed while reading limits");
            return problems::unavailable(None, "");
        }
    };
    let now = std::time::SystemTime::now();
    let buckets = states
        .iter()
        .map(|state| BucketView {
            name: state.name.to_owned(),
            scope: state.scope.as_str(),
            window: policy::window_label(&state.window),
            limit: state.limit,
            used: state.used,
            remaining: state.remaining,
            reset_at: state.reset_at().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            reset_seconds: state.reset_after(now).as_secs(),
        })
        .collect();
    Json(Limits { buckets }).into_response()
}
