//! `/v1/keys`: key management as JSON for a signed-in dashboard user (a session, never an API
//! key), charged to the user's `key_mgmt` bucket like the dashboard's own key actions.
//!
//! - `GET /v1/keys` — the account's keys
//! - `GET /v1/keys/{id}` — one of them
//! - `POST /v1/keys` `{"name": "...", "expires_in_days": 30, "read_only": true,
//!   "allowed_ips": ["203.0.113.0/24"]}` — 201 with the secret, once (only `name` is required)
//! - `POST /v1/keys/{id}/rotate` `{"grace_seconds": 86400, "expires_in_days": 90}` — the new
//!   secret, once; the key keeps its expiry unless `expires_in_days` is given (0: never)
//! - `PATCH /v1/keys/{id}` `{"name": "..."}` — rename
//! - `PUT /v1/keys/{id}/restrictions` `{"read_only": false, "allowed_ips": []}` — what the key
//!   may do from now on, on every node at its next request
//! - `POST /v1/keys/{id}/disable`, `POST /v1/keys/{id}/enable` — requests with the key get 401
//!   until it is enabled again; secrets, charts and limits stay
//! - `DELETE /v1/keys/{id}` — revoke, for good
//!
//! Errors are problem+json, each with a request id: 401 without a session, 403 for a change sent
//! from another site's page, 400/415/422 for bad JSON or an unreadable key id, 404 for a key of
//! another account, 405 (with `Allow`) for a method a route does not take, 429 with
//! `Retry-After` when `key_mgmt` is spent. Every answer to a signed-in user carries the user's
//! `key_mgmt` bucket in the rate-limit headers. Only rotate's body, every field of which is
//! optional, may be left out: a `PUT` of restrictions without one is refused, not read as "none".

use std::time::SystemTime;

use axum::extract::{FromRef, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use limiter::{BucketState, Decision};
use policy::KeyQuota;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use services::Services;
use services::accounts::User;
use services::keys::{ApiKey, KeyError, KeyStatus, KeyWithSecret, NewExpiry, Restrictions};

use crate::gateway::problem;

mod extract;
pub use extract::{ApiJson, KeyIdPath, SignedIn};

#[derive(Serialize)]
struct KeyJson {
    id: String,
    name: String,
    start: String,
    status: &'static str,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    /// The client address of that last use.
    last_used_from: Option<String>,
    /// While a rotation's grace lasts: when the old secret stops working.
    old_secret_expires_at: Option<String>,
    /// GET, HEAD and OPTIONS only.
    read_only: bool,
    /// The address ranges requests may come from; empty: anywhere.
    allowed_ips: Vec<String>,
    /// The key's own quota, `{"limit": 1000, "per": "day"}`; null: the plan's alone.
    quota: Option<KeyQuota>,
    /// What the key has used of its own quota this day or billing month; null without one (or
    /// while the limiter store cannot be read).
    quota_used: Option<u64>,
}

#[derive(Serialize)]
struct CreatedJson {
    key: KeyJson,
    /// Shown this once; keystile keeps only its SHA-256.
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    name: String,
    #[serde(default)]
    expires_in_days: Option<u32>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    allowed_ips: Vec<String>,
    #[serde(default)]
    quota: Option<KeyQuota>,
}

/// A key's restrictions as JSON; every field may be left out (no restriction).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionsRequest {
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    allowed_ips: Vec<String>,
    /// `{"limit": 1000, "per": "day"}` (or `"month"`); absent or null: none.
    #[serde(default)]
    quota: Option<KeyQuota>,
}

fn restrictions(
    read_only: bool,
    allowed_ips: &[String],
    quota: Option<KeyQuota>,
) -> Result<Restrictions, KeyError> {
    let parsed = Restrictions::from_list(read_only, allowed_ips).map_err(KeyError::InvalidRestrictions)?;
    Ok(parsed.with_quota(quota))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    #[serde(default)]
    grace_seconds: u32,
    /// Absent: the key keeps its expiry; 0: it never expires; N: it expires in N days.
    expires_in_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    name: String,
}

/// The routes above, for a router whose state holds the [`Services`]. A method a route does not
/// take is a 405 problem, whose `Allow` header (axum's) names those it does.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Services: FromRef<S>,
{
    Router::new()
        .route("/v1/keys", get(list).post(create))
        .route("/v1/keys/{id}", get(show).delete(revoke).patch(rename))
        .route("/v1/keys/{id}/restrictions", put(restrict))
        .route("/v1/keys/{id}/rotate", post(rotate))
        .route("/v1/keys/{id}/disable", post(disable))
        .route("/v1/keys/{id}/enable", post(enable))
        .method_not_allowed_fallback(wrong_method)
}

async fn wrong_method(State(services): State<Services>, mut parts: Parts) -> Response {
    let user = extract::signed_in(&services, &mut parts, &services).await;
    let detail = "This endpoint does not take that method: the Allow header lists those it takes.";
    extract::refused(&services, user.as_ref(), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", detail)
        .await
}

/// The answer to a state-changing request sent from another site's page: a 403 problem with a
/// request id, like the key API's other refusals.
pub async fn cross_site_refusal(services: &Services) -> Response {
    let detail = "Requests from other sites' pages are refused: call the key API from the dashboard's own pages, or without a browser.";
    extract::refused(services, None, StatusCode::FORBIDDEN, "forbidden", detail).await
}

/// The answer to a key API path with a segment longer than any key id: 404, in the key API's
/// problem shape.
pub async fn overlong_path_refusal(services: &Services) -> Response {
    extract::refused(services, None, StatusCode::NOT_FOUND, "not_found", "No such key.").await
}

pub async fn list(State(services): State<Services>, SignedIn(user): SignedIn) -> Response {
    let answer = match user.account_id.as_deref() {
        Some(account_id) => account_keys_json(&services, account_id).await,
        None => Err(KeyError::NoAccount),
    };
    respond(&services, &user, answer).await
}

async fn account_keys_json(services: &Services, account_id: &str) -> Result<Json<Vec<KeyJson>>, KeyError> {
    let keys = services.keys.list(account_id).await?;
    let used = services.key_quota_use(account_id, &keys).await;
    let now = services.clock.now();
    Ok(Json(keys.iter().map(|key| key_json(key, now, used.get(&key.id).copied())).collect()))
}

pub async fn show(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
) -> Response {
    let found = services.keys.get(&user, &key_id).await;
    let answer = with_quota_use(&services, found).await;
    respond(&services, &user, answer).await
}

pub async fn create(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    ApiJson(request): ApiJson<CreateRequest>,
) -> Response {
    let now = services.clock.now();
    let valid = services::keys::expiry_after_days(now, request.expires_in_days).and_then(|expires_at| {
        Ok((expires_at, restrictions(request.read_only, &request.allowed_ips, request.quota)?))
    });
    let created = match valid {
        Ok((expires_at, restrictions)) => {
            services.keys.create(&user, &request.name, expires_at, restrictions).await
        }
        Err(invalid) => Err(invalid),
    };
    let answer = match created {
        Ok(created) => Ok((StatusCode::CREATED, Json(created_json(&services, created).await))),
        Err(error) => Err(error),
    };
    respond(&services, &user, answer).await
}

pub async fn rotate(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    body: Option<ApiJson<RotateRequest>>,
) -> Response {
    let request = body.map_or_else(RotateRequest::default, |ApiJson(request)| request);
    let grace = chrono::Duration::seconds(request.grace_seconds.into());
    let rotated = match NewExpiry::after_days(services.clock.now(), request.expires_in_days) {
        Ok(new_expiry) => services.keys.rotate(&user, &key_id, grace, new_expiry).await,
        Err(invalid) => Err(invalid),
    };
    let answer = match rotated {
        Ok(rotated) => Ok(Json(created_json(&services, rotated).await)),
        Err(error) => Err(error),
    };
    respond(&services, &user, answer).await
}

pub async fn rename(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    ApiJson(request): ApiJson<RenameRequest>,
) -> Response {
    let renamed = services.keys.rename(&user, &key_id, &request.name).await;
    let answer = with_quota_use(&services, renamed).await;
    respond(&services, &user, answer).await
}

pub async fn restrict(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    ApiJson(request): ApiJson<RestrictionsRequest>,
) -> Response {
    let restricted = match restrictions(request.read_only, &request.allowed_ips, request.quota) {
        Ok(restrictions) => services.keys.restrict(&user, &key_id, restrictions).await,
        Err(invalid) => Err(invalid),
    };
    let answer = with_quota_use(&services, restricted).await;
    respond(&services, &user, answer).await
}

pub async fn disable(state: State<Services>, user: SignedIn, key_id: KeyIdPath) -> Response {
    set_disabled(state, user, key_id, true).await
}

pub async fn enable(state: State<Services>, user: SignedIn, key_id: KeyIdPath) -> Response {
    set_disabled(state, user, key_id, false).await
}

async fn set_disabled(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    disabled: bool,
) -> Response {
    let changed = services.keys.set_disabled(&user, &key_id, disabled).await;
    let answer = with_quota_use(&services, changed).await;
    respond(&services, &user, answer).await
}

pub async fn revoke(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
) -> Response {
    let revoked = services.keys.revoke(&user, &key_id).await;
    let answer = with_quota_use(&services, revoked).await;
    respond(&services, &user, answer).await
}

/// A problem+json answer of the key API: the policy's problem type base and one title per code,
/// so a client sees one shape whatever refused it.
fn api_problem(
    status: StatusCode,
    type_base: Option<&str>,
    code: &str,
    detail: &str,
    request_id: &str,
) -> Response {
    let title = match code {
        "not_signed_in" => "Not signed in",
        "not_found" => "Key not found",
        "invalid_request" => "Invalid request",
        "forbidden" => "Forbidden",
        "method_not_allowed" => "Method not allowed",
        "rate_limit_exceeded" => "Too many key changes",
        "temporarily_unavailable" => "Temporarily unavailable",
        _ => "Internal error",
    };
    problem(status, type_base, code, title, detail, request_id)
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(crate::gateway::REQUEST_ID, value);
    }
    response
}

/// The key service's answer, or the problem for its error, with a request id and the user's
/// `key_mgmt` bucket in the policy's rate-limit headers.
async fn respond(services: &Services, user: &User, answer: Result<impl IntoResponse, KeyError>) -> Response {
    let request_id = crate::gateway::request_id();
    let answer = answer.map(IntoResponse::into_response);
    with_request_id(with_key_mgmt_headers(services, user, answer, &request_id).await, &request_id)
}

/// The answer (or the problem for its error) with the user's `key_mgmt` bucket in the policy's
/// rate-limit headers (seed 002: every response carries them). A change refused by that bucket
/// gets the policy's 429, as a refusal by the gateway's buckets does.
async fn with_key_mgmt_headers(
    services: &Services,
    user: &User,
    answer: Result<Response, KeyError>,
    request_id: &str,
) -> Response {
    let policy = services.policy.get();
    let render = policy.responder(policy.route("POST", "/v1/keys").map(|found| found.route));
    let charges: Vec<_> = services.keys.key_mgmt_charge(user).into_iter().collect();
    // Read, not charged: the service has charged the change already, or refused it.
    let buckets = if charges.is_empty() {
        Vec::new()
    } else {
        services.limiter.peek(&charges).await.unwrap_or_default()
    };
    let now = SystemTime::from(services.clock.now());
    let mut response = match answer {
        Ok(response) => response,
        Err(KeyError::Throttled { retry_after }) if !buckets.is_empty() => {
            let denied = buckets
                .iter()
                .map(|bucket| BucketState { denied: true, retry_after: Some(retry_after), ..bucket.clone() })
                .collect();
            let decision = Decision { now, buckets: denied, retry_after: Some(retry_after) };
            return crate::gateway::from_rendered(render.refusal(&decision, request_id));
        }
        Err(refused) => error(refused, policy.rejection.problem_type_base.as_deref(), request_id),
    };
    crate::gateway::add_limit_headers(&render, &buckets, now, &mut response);
    response
}

fn error(error: KeyError, type_base: Option<&str>, request_id: &str) -> Response {
    let detail = error.to_string();
    let (status, code) = match &error {
        KeyError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        KeyError::InvalidName
        | KeyError::InvalidExpiry
        | KeyError::InvalidRestrictions(_)
        | KeyError::NotActive
        | KeyError::ReasonRequired => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        KeyError::NoAccount | KeyError::Forbidden | KeyError::DisabledByStaff(_) => {
            (StatusCode::FORBIDDEN, "forbidden")
        }
        KeyError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded"),
        KeyError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        KeyError::Internal(cause) => {
            tracing::error!(%cause, request_id, "key API failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    };
    let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "Something went wrong on our side."
    } else {
        &detail
    };
    api_problem(status, type_base, code, detail, request_id)
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The key as JSON, with what it has used of its own quota.
async fn current_key_json(services: &Services, key: &ApiKey) -> KeyJson {
    let used = services.key_quota_use(&key.account_id, std::slice::from_ref(key)).await;
    key_json(key, services.clock.now(), used.get(&key.id).copied())
}

async fn with_quota_use(
    services: &Services,
    key: Result<ApiKey, KeyError>,
) -> Result<Json<KeyJson>, KeyError> {
    Ok(Json(current_key_json(services, &key?).await))
}

fn key_json(key: &ApiKey, now: DateTime<Utc>, quota_used: Option<u64>) -> KeyJson {
    let (status, old_secret_expires_at) = match key.status(now) {
        KeyStatus::Active => ("active", None),
        KeyStatus::Rotating { until } => ("rotating", Some(time(until))),
        KeyStatus::Revoked => ("revoked", None),
        KeyStatus::Expired => ("expired", None),
        KeyStatus::Disabled => ("disabled", None),
    };
    KeyJson {
        id: key.id.clone(),
        name: key.name.clone(),
        start: key.start.clone(),
        status,
        created_at: time(key.created_at),
        expires_at: key.expires_at.map(time),
        last_used_at: key.last_used_at.map(time),
        last_used_from: key.last_used_from.clone(),
        old_secret_expires_at,
        read_only: key.restrictions.read_only,
        allowed_ips: key.restrictions.allowed_ips.iter().map(ToString::to_string).collect(),
        quota: key.restrictions.quota,
        quota_used,
    }
}

async fn created_json(services: &Services, created: KeyWithSecret) -> CreatedJson {
    CreatedJson {
        key: current_key_json(services, &created.key).await,
        secret: created.secret.expose_secret().to_owned(),
    }
}
